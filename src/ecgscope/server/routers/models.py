"""``/api/v1/models``: the installed pretrained models and their cards."""

from __future__ import annotations

from fastapi import APIRouter

from ecgscope.server.deps import CurrentUser
from ecgscope.server.schemas import ErrorResponse
from ecgscope.server.services.analysis import list_models

router = APIRouter(prefix="/api/v1/models", tags=["models"])


@router.get("", responses={401: {"model": ErrorResponse}, 503: {"model": ErrorResponse}})
def models(principal: CurrentUser) -> list[dict]:
    """Name, version, sha256, input kind, labels and model card of every installed model."""
    return list_models()
