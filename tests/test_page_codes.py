"""The page's code tables are the backend's own: the committed module is what the generator writes."""

from __future__ import annotations

from pathlib import Path

from backend.codes import REGIOES, UFS
from backend.page_codes import COMMAND, page_codes_ts
from backend.progress.events import STAGES

COMMITTED = Path(__file__).resolve().parents[1] / "frontend" / "src" / "codes.generated.ts"


def test_committed_page_codes_match_the_backend() -> None:
    assert COMMITTED.read_text(encoding="utf-8") == page_codes_ts(), (
        f"frontend/src/codes.generated.ts is stale: run `{COMMAND}`"
    )


def test_every_uf_is_in_exactly_one_region() -> None:
    in_regions = [uf for ufs in REGIOES.values() for uf in ufs]
    assert sorted(in_regions) == sorted(UFS)


def test_stages_progress_in_their_order() -> None:
    names = [stage.name for stage in STAGES]
    assert len(set(names)) == len(names)
    *steps, error = STAGES
    assert error.name == "error" and error.progress == -1
    # A stage may run beside the one before it over the same range (partial_results beside
    # fetching, one of each per UF), never before it.
    starts = [stage.progress for stage in steps]
    ends = [stage.progress_max or stage.progress for stage in steps]
    assert starts == sorted(starts) and ends == sorted(ends), "the stages before `error` never make the progress go back"
    assert steps[-1].name == "complete" and steps[-1].progress == 100
