from .service import SERVICE

raise SystemExit(SERVICE.main())
