"""(placeholder: filled in by its screen's work)"""

from fastapi import APIRouter

from web.render import PageRoute

router = APIRouter(include_in_schema=False, route_class=PageRoute)
