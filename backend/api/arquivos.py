"""Downloads of the Excel reports kept on this machine (`LocalStorage`), behind signed links.

With Supabase Storage the links point at Supabase itself and this route answers 404.
"""

from __future__ import annotations

import anyio.to_thread
from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response

from backend.adapters.storage import XLSX_CONTENT_TYPE, FileGone, LinkRejected, LocalStorage, download_filename
from backend.api.errors import INVALID, erro

router = APIRouter(tags=["arquivos"])

NOT_LOCAL = "Arquivo não encontrado."


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse(
        status_code=status,
        content={"detail": message, "mensagem": message},
        headers={"Cache-Control": "no-store"},
    )


@router.get(
    "/arquivos/{name}",
    response_class=FileResponse,
    responses={
        200: {"content": {XLSX_CONTENT_TYPE: {}}, "description": "A planilha da busca."},
        403: erro("Link inválido, adulterado ou expirado."),
        404: erro("A planilha não existe mais (ou os relatórios ficam no Supabase Storage)."),
        **INVALID,
    },
)
async def baixar_arquivo(
    request: Request,
    name: str,
    expira: str = Query(default="", description="Validade do link (segundos desde 1970, UTC)."),
    token: str = Query(default="", description="Assinatura do link."),
) -> Response:
    """The report a signed link points to, as an attachment."""
    services = getattr(request.state, "services", None)
    storage = getattr(services, "storage", None)
    if not isinstance(storage, LocalStorage):
        return _error(404, NOT_LOCAL)
    try:
        path = await anyio.to_thread.run_sync(storage.verify, name, expira, token)
    except LinkRejected as exc:
        return _error(403, exc.message)
    except FileGone as exc:
        return _error(404, exc.message)
    return FileResponse(
        path,
        media_type=XLSX_CONTENT_TYPE,
        filename=download_filename(name.removesuffix(".xlsx")),
        headers={
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        },
    )
