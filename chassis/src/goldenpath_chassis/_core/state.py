"""What the chassis keeps on an app: one typed object at `app.state.chassis`.

Built with the app: the service, its settings, the instruments, the request guards and the
admission count (their middleware needs them before anything opens). Set while the lifespan
runs: the open resources and the authenticator. Code that serves a request reaches them
through `chassis_of`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.requests import HTTPConnection

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from .admission import Admission
    from .resources import Instruments, Resources
    from .security.authentication import Authenticator
    from .security.install import RequestGuards
    from .service import Service
    from .settings import ChassisSettings
    from .static import StaticAssets


class NotOpenError(RuntimeError):
    """A resource was asked for outside the app's lifespan."""


@dataclass(kw_only=True, eq=False)
class ChassisState:
    service: Service
    settings: ChassisSettings
    instruments: Instruments
    guards: RequestGuards
    admission: Admission
    static: StaticAssets | None = None
    open_resources: Resources | None = None
    open_authenticator: Authenticator | None = None

    @property
    def resources(self) -> Resources:
        if self.open_resources is None:
            raise NotOpenError("the app's resources are open only while its lifespan runs")
        return self.open_resources

    @property
    def authenticator(self) -> Authenticator:
        if self.open_authenticator is None:
            raise NotOpenError("the authenticator exists only while the app's lifespan runs")
        return self.open_authenticator


def chassis_of(app: Starlette) -> ChassisState:
    state: ChassisState = app.state.chassis
    return state


def request_chassis(connection: HTTPConnection) -> ChassisState:
    state: ChassisState = connection.app.state.chassis
    return state


def resources_of(connection: HTTPConnection) -> Resources:
    """The open resources, from inside a request (a route's dependency, a handler)."""
    return request_chassis(connection).resources


def settings_of(connection: HTTPConnection) -> ChassisSettings:
    return request_chassis(connection).settings
