"""Request and answer shapes of the HTTP API (the contract in DESIGN.md)."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import orjson
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    TypeAdapter,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)

from backend.codes import DEFAULT_MODALIDADES, MAX_WINDOW_DAYS, MODALIDADES, UFS

Modo = Literal["publicacao", "abertas"]
Classificacao = Literal["palavras", "ia"]
PNCP_FIRST_DAY = date(2021, 1, 1)  # the PNCP began with the law of 2021 (Lei 14.133): nothing before

_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_day(value: Any) -> Any:
    """A day as the schema says it, text in YYYY-MM-DD (pydantic alone also takes Unix times)."""
    if value is None or isinstance(value, date) or (isinstance(value, str) and _ISO_DAY.fullmatch(value)):
        return value
    raise ValueError("data inválida: use o formato AAAA-MM-DD.")


def _whole_number(value: Any) -> Any:
    """An integer as JSON counts them: 12 or 12.0, not "12" nor true."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise ValueError("deve ser um número inteiro.")


# What the validators below check, said in the OpenAPI schema too (JSON Schema cannot say the rest:
# one date against the other or against today, one value against the other, the sector's id).
UfCode = Annotated[str, Field(json_schema_extra={"enum": list(UFS)})]
Day = Annotated[date | None, BeforeValidator(_iso_day)]
Modalidade = Annotated[int, BeforeValidator(_whole_number),
                       Field(json_schema_extra={"minimum": min(MODALIDADES), "maximum": max(MODALIDADES)})]
LocalDateTime = Annotated[datetime, WithJsonSchema(
    {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?$"}
)]
"""A wall-clock time without offset (Brasília's, as PNCP gives it): not JSON Schema's `date-time`."""


class BuscaRequest(BaseModel):
    """A search: which states, which sector, and either the publications of a period or every
    licitação still taking proposals."""

    model_config = ConfigDict(
        extra="forbid",
        # Modo "publicacao" (the default) needs both dates.
        json_schema_extra={
            "if": {"properties": {"modo": {"const": "abertas"}}, "required": ["modo"]},
            "else": {
                "properties": {"data_inicial": {"type": "string"}, "data_final": {"type": "string"}},
                "required": ["data_inicial", "data_final"],
            },
            "examples": [{"ufs": ["SP", "RJ"], "data_inicial": "2025-06-02", "data_final": "2025-06-06",
                          "setor_id": "vestuario"}],
        },
    )

    search_id: UUID | None = Field(default=None, description="Client-made UUID; the server makes one when absent.")
    ufs: Annotated[list[UfCode], Field(
        min_length=1, max_length=27,
        description="UF codes in capitals, e.g. ['SP', 'RJ']; a code given twice counts once.",
    )]
    modo: Modo = Field(
        default="publicacao",
        description="'publicacao': the publications of data_inicial..data_final; 'abertas': every licitação "
                    "still taking proposals now (Brasília time), whenever it was published; no dates needed.",
    )
    data_inicial: Day = Field(
        default=None, validate_default=True,
        description="First publication date (YYYY-MM-DD), from 2021-01-01 on; needed by modo 'publicacao', ignored "
                    "by 'abertas'.",
    )
    data_final: Day = Field(
        default=None, validate_default=True,
        description=f"Last publication date (YYYY-MM-DD), not before data_inicial, at most {MAX_WINDOW_DAYS} days "
                    "after it and at most one day after Brasília's today; needed by modo 'publicacao', ignored by "
                    "'abertas'.",
    )
    setor_id: str = Field(description="A sector id from GET /v1/setores.")
    modalidades: Annotated[list[Modalidade], Field(json_schema_extra={"minItems": 1})] | None = Field(
        default=None,
        description=f"PNCP modalidade codes ({min(MODALIDADES)} to {max(MODALIDADES)}); default "
                    f"{', '.join(map(str, DEFAULT_MODALIDADES))} (concorrências and pregões).",
    )
    valor_minimo: float | None = Field(default=None, ge=0, strict=True)
    valor_maximo: float | None = Field(
        default=None, ge=0, strict=True, description="Not less than valor_minimo."
    )
    termos_busca: str | None = Field(
        default=None,
        max_length=500,
        description="Extra terms separated by commas; when given, a licitação must also contain one of them. "
                    "Terms with no letter or digit are ignored.",
    )
    somente_abertas: bool = Field(
        default=True, strict=True, description="Keep only licitações still taking proposals."
    )

    @field_validator("ufs")
    @classmethod
    def _known_ufs(cls, ufs: list[str]) -> list[str]:
        # Exactly the codes the schema lists: what it does not say ("sp", " SP") is refused, not guessed.
        unknown = [uf or '""' for uf in ufs if uf not in UFS]
        if unknown:
            raise ValueError(f"UF desconhecida: {', '.join(unknown)}. Use as siglas em maiúsculas, como SP, RJ, MG.")
        return list(dict.fromkeys(ufs))

    @field_validator("modalidades")
    @classmethod
    def _known_modalidades(cls, modalidades: list[int] | None) -> list[int] | None:
        if modalidades is None:
            return None
        if not modalidades:
            raise ValueError("Informe ao menos uma modalidade ou omita o campo.")
        unknown = [m for m in modalidades if m not in MODALIDADES]
        if unknown:
            raise ValueError(f"Modalidade desconhecida: {unknown}. Códigos válidos: 1 a 13.")
        return sorted(set(modalidades))

    @field_validator("termos_busca")
    @classmethod
    def _blank_terms_are_none(cls, termos: str | None) -> str | None:
        return termos if termos and termos.strip() else None

    @field_validator("data_inicial")
    @classmethod
    def _first_day(cls, data_inicial: date | None, info: ValidationInfo) -> date | None:
        if info.data.get("modo") == "abertas":
            return None  # "open now" has no period
        if data_inicial is None:
            raise ValueError("informe a data inicial (AAAA-MM-DD), ou use modo \"abertas\" para as abertas agora.")
        if data_inicial < PNCP_FIRST_DAY:
            raise ValueError(f"o PNCP só tem publicações a partir de {PNCP_FIRST_DAY:%d/%m/%Y}.")
        return data_inicial

    @field_validator("data_final")
    @classmethod
    def _window(cls, data_final: date | None, info: ValidationInfo) -> date | None:
        if info.data.get("modo") == "abertas":
            return None
        if data_final is None:
            if "data_inicial" not in info.data:  # already said: one message is enough
                return None
            raise ValueError("informe a data final (AAAA-MM-DD), ou use modo \"abertas\" para as abertas agora.")
        data_inicial = info.data.get("data_inicial")
        if data_inicial is None:
            return data_final
        if data_final < data_inicial:
            raise ValueError("a data final não pode ser anterior à data inicial.")
        if (data_final - data_inicial).days > MAX_WINDOW_DAYS:
            raise ValueError(f"o período não pode passar de {MAX_WINDOW_DAYS} dias; divida a busca.")
        return data_final

    @field_validator("valor_maximo")
    @classmethod
    def _value_range(cls, valor_maximo: float | None, info: ValidationInfo) -> float | None:
        valor_minimo = info.data.get("valor_minimo")
        if valor_maximo is not None and valor_minimo is not None and valor_minimo > valor_maximo:
            raise ValueError("o valor máximo não pode ser menor que o valor mínimo.")
        return valor_maximo

    @property
    def modalidades_efetivas(self) -> tuple[int, ...]:
        return tuple(self.modalidades) if self.modalidades else DEFAULT_MODALIDADES

    @property
    def abertas(self) -> bool:
        return self.modo == "abertas"

    @property
    def period(self) -> tuple[date, date]:
        """The publication period of a "publicacao" search (validated: both dates are there)."""
        assert self.data_inicial is not None and self.data_final is not None, "modo 'abertas' has no period"
        return self.data_inicial, self.data_final


class Licitacao(BaseModel):
    """One procurement opportunity, normalised from a PNCP record."""

    codigo_pncp: str = Field(description="numeroControlePNCP, unique across PNCP.")
    objeto: str
    orgao: str
    uf: str
    municipio: str | None = None
    codigo_ibge: str | None = None
    valor_estimado: float | None = Field(
        default=None, description="Null when the budget is confidential (PNCP sends 0)."
    )
    modalidade: str
    modalidade_id: int
    data_publicacao: LocalDateTime | None = Field(default=None, description="Brasília time, no offset.")
    data_abertura: LocalDateTime | None = Field(default=None, description="Brasília time, no offset.")
    data_encerramento: LocalDateTime | None = Field(default=None, description="Brasília time, no offset.")
    situacao: str
    situacao_id: int
    link: str = Field(description="Where to bid: the origin system, or the PNCP page when PNCP has no origin link.")
    link_pncp: str | None = Field(default=None, description="The record's public PNCP page.")
    palavras_encontradas: list[str] = Field(
        default_factory=list,
        description="The sector's terms (and the user's) found in the objeto; none when the AI put it in.",
    )
    relevancia: float = 0.0
    classificacao: Classificacao = Field(
        default="palavras",
        description='Why it is in the sector: "palavras", its terms matched (palavras_encontradas); '
        '"ia", the AI arbiter read it and put it in.',
    )


LlmStatus = Literal["processing", "ready"]
Fonte = Literal["indice", "pncp", "misto"]
ExcelStatus = Literal["processing", "ready", "failed", "skipped"]


LICITACOES = TypeAdapter(list[Licitacao])
"""Validates or dumps a whole list at once (job payloads, stored results)."""


class ResumoLicitacoes(BaseModel):
    """Executive summary of a search's results. Counts and totals always come from the data."""

    resumo_executivo: str
    total_oportunidades: int
    valor_total: float = Field(description="Sum of the known estimated values, in R$.")
    destaques: list[str] = Field(default_factory=list)
    alerta_urgencia: str | None = Field(default=None, description="Set when proposals close within 3 days.")
    origem: Literal["llm", "fallback"] = Field(
        default="fallback", description="'llm' when written by the model, 'fallback' when computed from the data."
    )


class ProgressEvent(BaseModel):
    """One progress message of a search, as sent over Server-Sent Events."""

    stage: str
    progress: int = Field(description="0-100, or -1 for an error.")
    message: str
    detail: dict[str, Any] = Field(default_factory=dict)


class FalhaUF(BaseModel):
    uf: str
    mensagem: str


class BuscaResponse(BaseModel):
    search_id: UUID
    modo: Modo = "publicacao"
    # The licitações already written as JSON by the pipeline (stored and queued as such): the
    # answer reuses them instead of writing a thousand licitações a third time.
    _licitacoes_json: bytes | None = PrivateAttr(default=None)
    licitacoes: list[Licitacao]
    total_raw: int = Field(description="Records read from PNCP, before dedupe and filtering.")
    total_filtrado: int
    ufs_com_falha: list[FalhaUF] = Field(
        default_factory=list, description="UFs PNCP could not fully answer; their results may be partial."
    )
    avisos: list[str] = Field(default_factory=list, description="Readable notes, e.g. truncated pages.")
    resumo: ResumoLicitacoes | None = None
    llm_status: LlmStatus
    excel_status: ExcelStatus
    excel_url: str | None = None
    excel_error: str | None = None
    processamento: Literal["fila", "inline"] = Field(
        default="inline", description="'fila': summary and report come from background jobs, over SSE."
    )
    tempos_ms: dict[str, float] = Field(default_factory=dict, description="Duration of each stage.")
    fonte: Fonte | None = Field(
        default=None, description="'indice': read from the local PNCP index; 'pncp': read live; 'misto': both."
    )
    atualizado_em: datetime | None = Field(
        default=None, description="When the oldest data this search read was fetched from PNCP."
    )


    def with_licitacoes_json(self, written: bytes) -> BuscaResponse:
        """Keeps `written`, which must be `LICITACOES.dump_json(self.licitacoes)`, for `json_bytes`."""
        self._licitacoes_json = written
        return self

    def json_bytes(self) -> bytes:
        """The answer as JSON, the same as `model_dump_json()`."""
        if self._licitacoes_json is None:
            return self.model_dump_json().encode()
        fields = self.model_dump(mode="json", exclude={"licitacoes"})
        ordered = {name: orjson.Fragment(self._licitacoes_json) if name == "licitacoes" else fields[name]
                   for name in type(self).model_fields}
        return orjson.dumps(ordered)


class SearchStatus(BaseModel):
    search_id: UUID
    llm_status: LlmStatus
    excel_status: ExcelStatus
    resumo: ResumoLicitacoes | None = None
    excel_url: str | None = None
    excel_error: str | None = None
    erro: str | None = Field(default=None, description="Why the search itself failed, when it did.")
    created_at: datetime
    total_filtrado: int
    ufs_com_falha: list[FalhaUF] = Field(default_factory=list)
    fonte: Fonte | None = None
    atualizado_em: datetime | None = None


class Setor(BaseModel):
    id: str
    nome: str
    descricao: str
