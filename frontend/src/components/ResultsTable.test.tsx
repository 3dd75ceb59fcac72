import { act, fireEvent, render, screen, within } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";

import { licitacao, ufRows } from "../test/fixtures";
import { DIAS_REFRESH_MS, IA_TOOLTIP, ResultsTable, keepOrder } from "./ResultsTable";

afterEach(() => {
  vi.useRealTimers();
});

const objetos = () => screen.getAllByTestId("result-row").map((row) => row.querySelector(".objeto")?.textContent);

describe("keepOrder", () => {
  it("keeps the known rows in the given order and puts the new ones below, as they come", () => {
    const rows = [...ufRows("SP", 3), ...ufRows("RJ", 2)];
    const codes = (list: readonly { codigo_pncp: string }[]) => list.map((l) => l.codigo_pncp);
    expect(codes(keepOrder(rows, ["SP-3", "SP-1", "SP-2"]))).toEqual(["SP-3", "SP-1", "SP-2", "RJ-1", "RJ-2"]);
    expect(codes(keepOrder(rows.slice(1), ["SP-3", "SP-1", "SP-2"]))).toEqual(["SP-3", "SP-2", "RJ-1", "RJ-2"]);
    expect(codes(keepOrder(rows, []))).toEqual(codes(rows));
  });
});

describe("ResultsTable", () => {
  it("sorts partial rows when the user clicks; rows arriving later go below, then the final rows are sorted whole", () => {
    const sp = [
      licitacao({ codigo_pncp: "sp1", objeto: "SP barata", valor_estimado: 1000 }),
      licitacao({ codigo_pncp: "sp2", objeto: "SP cara", valor_estimado: 9000 }),
    ];
    const rj = [licitacao({ codigo_pncp: "rj1", objeto: "RJ caríssima", uf: "RJ", valor_estimado: 50000 })];
    const { rerender } = render(<ResultsTable licitacoes={sp} parcial />);
    expect(screen.getByTestId("results-table")).toHaveAttribute("data-parcial", "true");
    expect(objetos()).toEqual(["SP barata", "SP cara"]);

    fireEvent.click(screen.getByTestId("sort-valor"));
    expect(objetos()).toEqual(["SP cara", "SP barata"]);

    rerender(<ResultsTable licitacoes={[...sp, ...rj]} parcial />);
    expect(objetos()).toEqual(["SP cara", "SP barata", "RJ caríssima"]); // not inserted above
    expect(screen.getByTestId("sort-valor").closest("th")).toHaveAttribute("aria-sort", "descending");

    fireEvent.click(screen.getByTestId("sort-valor")); // a new click sorts what is there
    expect(objetos()).toEqual(["SP barata", "SP cara", "RJ caríssima"]);
    fireEvent.click(screen.getByTestId("sort-valor"));
    expect(objetos()).toEqual(["RJ caríssima", "SP cara", "SP barata"]);

    const final = [
      licitacao({ codigo_pncp: "f1", objeto: "Final média", valor_estimado: 5000 }),
      licitacao({ codigo_pncp: "f2", objeto: "Final maior", valor_estimado: 70000 }),
    ];
    rerender(<ResultsTable licitacoes={final} parcial={false} />);
    expect(screen.getByTestId("results-table")).toHaveAttribute("data-parcial", "false");
    expect(objetos()).toEqual(["Final maior", "Final média"]); // the user's sort, over the final rows
  });

  it("shows why each row is in the sector: the terms that matched, or a badge when the AI put it in", () => {
    const rows = [
      licitacao({
        codigo_pncp: "p",
        objeto: "Aquisição de uniformes e camisetas",
        palavras_encontradas: ["uniforme", "camiseta"],
      }),
      licitacao({
        codigo_pncp: "ia",
        objeto: "Aquisição de enxoval para a rede hospitalar",
        palavras_encontradas: [],
        classificacao: "ia",
      }),
    ];
    render(<ResultsTable licitacoes={rows} />);
    const [porPalavras, porIa] = screen.getAllByTestId("result-row") as [HTMLElement, HTMLElement];

    expect(porPalavras).toHaveAttribute("data-classificacao", "palavras");
    expect(within(porPalavras).getByTestId("termos-encontrados")).toHaveTextContent("termos: uniforme, camiseta");
    expect(within(porPalavras).queryByText("sugerido por IA")).toBeNull();

    expect(porIa).toHaveAttribute("data-classificacao", "ia");
    const badge = within(porIa).getByText("sugerido por IA");
    expect(badge).toHaveAttribute("title", IA_TOOLTIP);
    expect(IA_TOOLTIP).toBe(
      "Classificada pela IA: o objeto não cita os termos do setor, mas a IA o leu e o considerou do setor.",
    );
    expect(within(porIa).queryByTestId("termos-encontrados")).toBeNull();

    // The objeto stays its own text, first in the row; the classification comes under it.
    expect(objetos()).toEqual(["Aquisição de uniformes e camisetas", "Aquisição de enxoval para a rede hospitalar"]);
    expect(porIa.textContent).toMatch(/^Aquisição de enxoval para a rede hospitalarsugerido por IA/);
  });

  it("marks partial rows too, and shows no terms line when none came", () => {
    render(
      <ResultsTable
        licitacoes={[
          licitacao({ codigo_pncp: "a", classificacao: "ia", palavras_encontradas: [] }),
          licitacao({ codigo_pncp: "b", palavras_encontradas: [] }),
        ]}
        parcial
      />,
    );
    const [a, b] = screen.getAllByTestId("result-row") as [HTMLElement, HTMLElement];
    expect(a).toHaveAttribute("data-classificacao", "ia");
    expect(a).toHaveTextContent("sugerido por IA");
    expect(b).toHaveAttribute("data-classificacao", "palavras");
    expect(within(b).queryByTestId("termos-encontrados")).toBeNull();
    expect(b).not.toHaveTextContent("sugerido por IA");
  });

  it("keeps the given order of partial rows until the user sorts", () => {
    const { rerender } = render(<ResultsTable licitacoes={ufRows("SP", 2)} parcial />);
    rerender(<ResultsTable licitacoes={[...ufRows("SP", 2), ...ufRows("AC", 1)]} parcial />);
    expect(objetos()).toEqual(["SP 1", "SP 2", "AC 1"]);
  });

  it("shows the days left to each closing, and keeps them current", () => {
    vi.useFakeTimers();
    vi.setSystemTime(Date.parse("2026-11-20T23:58:00-03:00")); // Brasília
    const rows = [
      licitacao({ codigo_pncp: "a", data_encerramento: "2026-11-20T23:59:00" }),
      licitacao({ codigo_pncp: "b", data_encerramento: "2026-11-21T10:00:00" }),
      licitacao({ codigo_pncp: "c", data_encerramento: "2026-11-25T17:30:00" }),
      licitacao({ codigo_pncp: "d", data_encerramento: "2026-11-20T08:00:00" }),
      licitacao({ codigo_pncp: "e", data_encerramento: null }),
    ];
    const { unmount } = render(<ResultsTable licitacoes={rows} />);
    const cells = screen.getAllByTestId("result-row").map((row) => row.querySelector<HTMLElement>(".encerramento")!);
    const dias = () => cells.map((cell) => within(cell).queryByTestId("dias-restantes")?.textContent ?? null);
    expect(dias()).toEqual(["encerra hoje", "encerra amanhã", "5 dias", "encerrada", null]);
    expect(cells[2]).toHaveTextContent("25/11/2026 17:30 5 dias");
    expect(cells[4]).toHaveTextContent(/^—$/);

    act(() => vi.advanceTimersByTime(3 * DIAS_REFRESH_MS)); // past midnight in Brasília
    expect(dias()).toEqual(["encerrada", "encerra hoje", "4 dias", "encerrada", null]);
    unmount();
    expect(vi.getTimerCount()).toBe(0);
  });
});
