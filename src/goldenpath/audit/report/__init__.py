"""The report formats: a scorecard for people, JSON for dashboards, SARIF for code scanning."""
