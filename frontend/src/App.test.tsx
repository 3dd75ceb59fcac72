import { act, fireEvent, render, screen, within } from "@testing-library/react";
import { beforeEach, describe, expect, it, vi } from "vitest";

import { App } from "./App";
import { UF_CODES } from "./codes";
import { DEFAULT_WINDOW_DAYS } from "./formValues";
import { daysBetween } from "./format";
import { FakeEventSource, type FakeResponse, calls, deferred, installEventSource, installFetch } from "./test/fakes";
import { EVENTS, SEARCH_ID, answer, licitacao, partialResults, resumo, ufRows } from "./test/fixtures";

const SETORES = [
  { id: "vestuario", nome: "Vestuário e uniformes", descricao: "Uniformes, jalecos, calçados." },
  { id: "limpeza", nome: "Limpeza", descricao: "Produtos e serviços de limpeza." },
];

beforeEach(() => {
  calls.length = 0;
  installEventSource();
  vi.spyOn(crypto, "randomUUID").mockReturnValue(SEARCH_ID);
});

async function renderPage(post: () => FakeResponse | Promise<FakeResponse> = () => ({ status: 200, body: answer() })) {
  const fetchMock = installFetch({
    "GET /v1/config": () => ({ status: 200, body: { auth: "off", supabase_url: null, supabase_anon_key: null } }),
    "GET /v1/setores": () => ({ status: 200, body: SETORES }),
    "POST /v1/buscar": post,
  });
  render(<App />);
  await screen.findByRole("option", { name: "Limpeza" });
  return fetchMock;
}

const posts = (fetchMock: ReturnType<typeof installFetch>) =>
  fetchMock.mock.calls.filter(([, init]) => init?.method === "POST");

async function submit() {
  await act(async () => {
    fireEvent.click(screen.getByTestId("submit"));
  });
}

describe("the search page", () => {
  it("loads the sectors and starts with sensible defaults", async () => {
    await renderPage();
    const setor = screen.getByTestId("setor-select") as HTMLSelectElement;
    expect(setor.value).toBe("vestuario");
    expect(screen.getByLabelText("Setor")).toBe(setor);
    for (const uf of UF_CODES) expect(screen.getByTestId(`uf-${uf}`)).not.toBeChecked();
    expect(UF_CODES).toHaveLength(27);

    const inicial = screen.getByTestId("data-inicial") as HTMLInputElement;
    const final = screen.getByTestId("data-final") as HTMLInputElement;
    expect(inicial.type).toBe("date");
    expect(screen.getByLabelText("Data inicial")).toBe(inicial);
    expect(daysBetween(inicial.value, final.value)).toBe(DEFAULT_WINDOW_DAYS);

    for (const codigo of [4, 5, 6, 7]) expect(screen.getByTestId(`modalidade-${codigo}`)).toBeChecked();
    for (const codigo of [1, 2, 3, 8, 13]) expect(screen.getByTestId(`modalidade-${codigo}`)).not.toBeChecked();
    expect(screen.getByLabelText(/1\s+Leilão - Eletrônico/)).not.toBeChecked();
    expect(screen.getByTestId("somente-abertas")).toBeChecked();
    expect(screen.getByTestId("modo-publicacao")).toBeChecked();
    expect(screen.getByTestId("modo-abertas")).not.toBeChecked();
    expect(screen.getByLabelText("Publicadas no período")).toBe(screen.getByTestId("modo-publicacao"));
    expect(screen.getByLabelText("Abertas agora")).toBe(screen.getByTestId("modo-abertas"));
    expect(screen.queryByTestId("modo-abertas-hint")).toBeNull();
    expect(screen.getByTestId("submit")).toHaveTextContent("Buscar");
  });

  it("selects states with the shortcuts", async () => {
    await renderPage();
    fireEvent.click(screen.getByRole("button", { name: "Sudeste" }));
    const checked = () => UF_CODES.filter((uf) => (screen.getByTestId(`uf-${uf}`) as HTMLInputElement).checked);
    expect(checked()).toEqual(["ES", "MG", "RJ", "SP"]);
    expect(screen.getByRole("button", { name: "Sudeste" })).toHaveAttribute("aria-pressed", "true");
    fireEvent.click(screen.getByRole("button", { name: "Sul" }));
    expect(checked()).toEqual(["ES", "MG", "PR", "RJ", "RS", "SC", "SP"]);
    fireEvent.click(screen.getByRole("button", { name: "Sudeste" }));
    expect(checked()).toEqual(["PR", "RS", "SC"]);
    fireEvent.click(screen.getByRole("button", { name: "Todos" }));
    expect(checked()).toHaveLength(27);
    fireEvent.click(screen.getByRole("button", { name: "Nenhum" }));
    expect(checked()).toEqual([]);
  });

  it("explains what to fix before posting", async () => {
    const fetchMock = await renderPage();
    await submit();
    expect(screen.getByTestId("form-errors")).toHaveTextContent("Escolha ao menos um estado (UF).");

    fireEvent.click(screen.getByTestId("uf-SP"));
    fireEvent.change(screen.getByTestId("data-inicial"), { target: { value: "2026-11-20" } });
    fireEvent.change(screen.getByTestId("data-final"), { target: { value: "2026-11-10" } });
    fireEvent.change(screen.getByTestId("valor-minimo"), { target: { value: "5000" } });
    fireEvent.change(screen.getByTestId("valor-maximo"), { target: { value: "100" } });
    await submit();
    const errors = screen.getByTestId("form-errors");
    expect(errors).not.toHaveTextContent("estado (UF)");
    expect(errors).toHaveTextContent("A data final não pode ser anterior à data inicial.");
    expect(errors).toHaveTextContent("O valor máximo não pode ser menor que o valor mínimo.");
    expect(posts(fetchMock)).toHaveLength(0);
    expect(FakeEventSource.instances).toHaveLength(0);
  });

  it("shows the server's 422 messages", async () => {
    await renderPage(() => ({
      status: 422,
      body: {
        detail: [{ campo: "setor_id", msg: "setor desconhecido: 'x'. Consulte GET /v1/setores." }],
        mensagem: "setor_id: setor desconhecido: 'x'. Consulte GET /v1/setores.",
      },
    }));
    fireEvent.click(screen.getByTestId("uf-SP"));
    await submit();
    expect(await screen.findByTestId("form-errors")).toHaveTextContent(
      "Setor: setor desconhecido: 'x'. Consulte GET /v1/setores.",
    );
    expect(screen.getByTestId("progress")).toHaveAttribute("data-stage", "error");
  });

  it("runs a search: results at once, then the summary and the Excel link as they arrive", async () => {
    const post = deferred<FakeResponse>();
    const fetchMock = await renderPage(() => post.promise);
    fireEvent.click(screen.getByTestId("uf-SP"));
    fireEvent.click(screen.getByTestId("uf-RJ"));
    fireEvent.change(screen.getByTestId("data-inicial"), { target: { value: "2026-11-10" } });
    fireEvent.change(screen.getByTestId("data-final"), { target: { value: "2026-11-20" } });
    fireEvent.change(screen.getByTestId("termos-busca"), { target: { value: " jaleco " } });
    await submit();

    expect(calls.filter((c) => !/setores|config/.test(c)).slice(0, 2)).toEqual([
      `sse /v1/buscar-progress/${SEARCH_ID}`,
      "POST /v1/buscar",
    ]);
    expect(JSON.parse(String(posts(fetchMock)[0]?.[1]?.body))).toEqual({
      search_id: SEARCH_ID,
      setor_id: "vestuario",
      ufs: ["RJ", "SP"],
      modo: "publicacao",
      data_inicial: "2026-11-10",
      data_final: "2026-11-20",
      modalidades: [4, 5, 6, 7],
      somente_abertas: true,
      termos_busca: "jaleco",
    });
    expect(screen.getByTestId("submit")).toBeDisabled();

    const stream = FakeEventSource.latest;
    act(() => stream.emit(EVENTS.fetchingSP));
    const progress = screen.getByTestId("progress");
    expect(progress).toHaveAttribute("data-stage", "fetching");
    expect(progress).toHaveTextContent("SP: 30 publicações lidas (1 de 2 UFs)");
    expect(within(progress).getByRole("progressbar")).toHaveAttribute("aria-valuenow", "33");

    await act(async () =>
      post.resolve({
        status: 200,
        body: answer({
          ufs_com_falha: [{ uf: "RJ", mensagem: "O PNCP não respondeu para RJ." }],
          avisos: ["SP: resultados limitados às primeiras páginas."],
        }),
      }),
    );
    expect(screen.getByTestId("total-raw")).toHaveTextContent("40");
    expect(screen.getByTestId("total-filtrado")).toHaveTextContent("2");
    expect(screen.getByTestId("modo-busca")).toHaveTextContent("Publicadas de 10/11/2026 a 20/11/2026");
    expect(screen.getByTestId("ufs-com-falha")).toHaveTextContent("O PNCP não respondeu para RJ.");
    expect(screen.getByTestId("uf-falha-RJ")).toHaveTextContent(/^RJ: O PNCP não respondeu para RJ\.$/);
    expect(screen.queryByTestId("resultados-parciais")).toBeNull();
    expect(screen.getByTestId("results-table")).toHaveAttribute("data-parcial", "false");
    expect(screen.getByTestId("avisos")).toHaveTextContent("resultados limitados");

    const rows = screen.getAllByTestId("result-row");
    expect(rows).toHaveLength(2);
    expect(rows[0]).toHaveTextContent("Aquisição de uniformes escolares");
    expect(rows[0]).toHaveTextContent("Prefeitura Municipal de Exemplo");
    expect(rows[0]).toHaveTextContent("SP / Exemplo");
    expect(rows[0]?.textContent).toMatch(/R\$\s150\.000,00/);
    expect(rows[0]).toHaveTextContent("25/11/2026 17:30");
    expect(rows[0]).toHaveTextContent("Pregão - Eletrônico");
    expect(within(rows[0]!).getByRole("link", { name: /Ver edital/ })).toHaveAttribute(
      "href",
      "https://compras.example.test/edital/1",
    );
    expect(rows[1]).toHaveTextContent("sigiloso");

    const card = screen.getByTestId("resumo");
    expect(card).toHaveAttribute("data-status", "processing");
    expect(card).toHaveTextContent("prévia");
    expect(card).toHaveTextContent("Prévia calculada dos dados.");
    expect(screen.getByText("Gerando planilha…")).toBeInTheDocument();
    expect(screen.queryByTestId("excel-download")).toBeNull();
    expect(screen.getByTestId("submit")).toBeEnabled();

    const urgent = resumo({ alerta_urgencia: "1 licitação encerra em até 3 dias." });
    act(() => stream.emit({ ...EVENTS.llmReady, event: { ...EVENTS.llmReady.event, detail: { resumo: urgent } } }));
    expect(card).toHaveAttribute("data-status", "ready");
    expect(card).not.toHaveTextContent("prévia");
    expect(card).toHaveTextContent("Resumo do modelo: 2 oportunidades em SP.");
    expect(within(card).getByRole("listitem")).toHaveTextContent("Maior valor: R$ 150.000,00");
    expect(screen.getByTestId("alerta-urgencia")).toHaveTextContent("1 licitação encerra em até 3 dias.");

    act(() => stream.emit(EVENTS.excelReady));
    const link = screen.getByTestId("excel-download");
    expect(link.tagName).toBe("A");
    expect(link).toHaveAttribute("href", "/v1/arquivos/abc.xlsx?expira=1&token=t");
    expect(link).toHaveTextContent("Baixar planilha (Excel)");
    expect(screen.getByTestId("progress")).toHaveAttribute("data-stage", "complete");
  });

  it("shows why the Excel failed, and uses an absolute storage link as is", async () => {
    await renderPage(() => ({
      status: 200,
      body: answer({ excel_status: "failed", excel_error: "Não foi possível gerar a planilha: tente de novo." }),
    }));
    fireEvent.click(screen.getByTestId("uf-SP"));
    await submit();
    expect(screen.getByTestId("excel-error")).toHaveTextContent("Não foi possível gerar a planilha: tente de novo.");

    installFetch({
      "POST /v1/buscar": () => ({
        status: 200,
        body: answer({ excel_status: "ready", excel_url: "https://projeto.supabase.co/storage/v1/object/sign/x.xlsx?token=abc" }),
      }),
    });
    await submit();
    expect(screen.getByTestId("excel-download")).toHaveAttribute(
      "href",
      "https://projeto.supabase.co/storage/v1/object/sign/x.xlsx?token=abc",
    );
  });

  it.each([
    ["indice", /^Dados do índice local do PNCP · atualizado há 4 min$/],
    ["pncp", /^Dados lidos agora do PNCP$/],
    ["misto", /^Dados do índice local e do PNCP · atualizado há 4 min$/],
  ] as const)("says where the data came from next to the totals: fonte %s", async (fonte, text) => {
    const atualizado_em = new Date(Date.now() - (fonte === "pncp" ? 5_000 : 4 * 60_000 + 10_000)).toISOString();
    await renderPage(() => ({ status: 200, body: answer({ fonte, atualizado_em }) }));
    fireEvent.click(screen.getByTestId("uf-SP"));
    await submit();
    const line = screen.getByTestId("fonte");
    expect(line).toHaveAttribute("data-fonte", fonte);
    expect(line).toHaveTextContent(text);
    expect(line.title).toMatch(/^Obtidos do PNCP em \d{2}\/\d{2}\/\d{4} \d{2}:\d{2} \(horário de Brasília\)$/);
    expect(screen.getByRole("region", { name: "Resumo numérico" })).toContainElement(line);
  });

  it("shows no source line for an answer without fonte", async () => {
    await renderPage(() => ({ status: 200, body: answer({ fonte: null, atualizado_em: null }) }));
    fireEvent.click(screen.getByTestId("uf-SP"));
    await submit();
    expect(screen.getByTestId("total-filtrado")).toBeInTheDocument();
    expect(screen.queryByTestId("fonte")).toBeNull();
  });

  it("sorts the results by value and by closing date", async () => {
    await renderPage(() => ({
      status: 200,
      body: answer({
        licitacoes: [
          ...answer().licitacoes,
          { ...answer().licitacoes[0]!, codigo_pncp: "c3", objeto: "Terceira", valor_estimado: 900000, data_encerramento: null },
        ],
      }),
    }));
    fireEvent.click(screen.getByTestId("uf-SP"));
    await submit();
    const objetos = () => screen.getAllByTestId("result-row").map((row) => row.querySelector(".objeto")?.textContent);
    const header = (testId: string) => screen.getByTestId(testId).closest("th")!;

    expect(header("sort-valor")).toHaveAttribute("aria-sort", "none");
    fireEvent.click(screen.getByTestId("sort-valor"));
    expect(header("sort-valor")).toHaveAttribute("aria-sort", "descending");
    expect(objetos()).toEqual(["Terceira", "Aquisição de uniformes escolares", "Contratação de serviço de limpeza"]);
    fireEvent.click(screen.getByTestId("sort-valor"));
    expect(header("sort-valor")).toHaveAttribute("aria-sort", "ascending");
    expect(objetos()).toEqual(["Aquisição de uniformes escolares", "Terceira", "Contratação de serviço de limpeza"]);

    fireEvent.click(screen.getByTestId("sort-encerramento"));
    expect(header("sort-valor")).toHaveAttribute("aria-sort", "none");
    expect(header("sort-encerramento")).toHaveAttribute("aria-sort", "ascending");
    expect(objetos()).toEqual(["Contratação de serviço de limpeza", "Aquisição de uniformes escolares", "Terceira"]);
  });

  it("shows each UF's rows as its partial results come, below the others, then the final ranking once", async () => {
    const post = deferred<FakeResponse>();
    await renderPage(() => post.promise);
    for (const uf of ["SP", "RJ", "MG"]) fireEvent.click(screen.getByTestId(`uf-${uf}`));
    await submit();
    const stream = FakeEventSource.latest;
    const objetos = () => screen.getAllByTestId("result-row").map((row) => row.querySelector(".objeto")?.textContent);
    expect(screen.queryByTestId("results-table")).toBeNull();

    act(() => stream.emit(partialResults("1700000000110-0", "SP", ufRows("SP", 2))));
    expect(screen.getByTestId("results-table")).toHaveAttribute("data-parcial", "true");
    expect(objetos()).toEqual(["SP 1", "SP 2"]);
    expect(screen.getByTestId("resultados-parciais")).toHaveTextContent(
      "Resultados parciais: 1 de 3 UFs lidas; a lista final, ordenada, chega ao fim da busca.",
    );
    expect(screen.queryByTestId("total-filtrado")).toBeNull(); // no answer yet
    expect(screen.getByTestId("progress")).toHaveAttribute("data-stage", "partial_results");

    const firstRow = screen.getAllByTestId("result-row")[0];
    act(() => stream.emit(partialResults("1700000000210-0", "MG", ufRows("MG", 1), { total: 70 })));
    act(() => stream.emit(partialResults("1700000000110-0", "SP", ufRows("SP", 2)))); // replayed
    expect(objetos()).toEqual(["SP 1", "SP 2", "MG 1"]);
    expect(screen.getAllByTestId("result-row")[0]).toBe(firstRow); // the row being read did not move
    expect(screen.getByTestId("resultados-parciais")).toHaveTextContent("2 de 3 UFs lidas");
    expect(screen.getByTestId("resultados-parciais")).toHaveTextContent(
      "Mostrando as 3 melhores de 72 encontradas até agora.",
    );

    await act(async () => post.resolve({ status: 200, body: answer() }));
    const table = screen.getByTestId("results-table");
    expect(table).toHaveAttribute("data-parcial", "false");
    expect(objetos()).toEqual(["Aquisição de uniformes escolares", "Contratação de serviço de limpeza"]);
    expect(screen.queryByTestId("resultados-parciais")).toBeNull();
    expect(screen.getByTestId("total-filtrado")).toHaveTextContent("2");

    // A partial event replayed after the answer brings no partial row back.
    act(() => stream.emit(partialResults("1700000000310-0", "RJ", ufRows("RJ", 2))));
    expect(table).toHaveAttribute("data-parcial", "false");
    expect(objetos()).toEqual(["Aquisição de uniformes escolares", "Contratação de serviço de limpeza"]);
  });

  it("says which UF is missing and why while the other UFs' rows stay, and once after the answer", async () => {
    const post = deferred<FakeResponse>();
    await renderPage(() => post.promise);
    fireEvent.click(screen.getByTestId("uf-SP"));
    fireEvent.click(screen.getByTestId("uf-RJ"));
    await submit();
    const stream = FakeEventSource.latest;

    act(() => stream.emit(partialResults("1700000000110-0", "SP", ufRows("SP", 2))));
    expect(screen.queryByTestId("uf-falhas")).toBeNull();
    act(() =>
      stream.emit(partialResults("1700000000210-0", "RJ", [], { falha: "o PNCP não respondeu a 3 de 4 consultas" })),
    );
    expect(screen.getByTestId("uf-falha-RJ")).toHaveTextContent(/^RJ: o PNCP não respondeu a 3 de 4 consultas$/);
    expect(within(screen.getByTestId("uf-falhas")).getAllByRole("listitem")).toHaveLength(1);
    expect(screen.getAllByTestId("result-row")).toHaveLength(2);
    expect(screen.getByTestId("results-table")).toHaveAttribute("data-parcial", "true");
    expect(screen.getByTestId("resultados-parciais")).toHaveTextContent("2 de 2 UFs lidas");

    await act(async () =>
      post.resolve({
        status: 200,
        body: answer({ ufs_com_falha: [{ uf: "RJ", mensagem: "O PNCP não respondeu completamente para RJ." }] }),
      }),
    );
    expect(screen.getAllByTestId("uf-falha-RJ")).toHaveLength(1);
    expect(screen.getByTestId("uf-falha-RJ")).toHaveTextContent("RJ: O PNCP não respondeu completamente para RJ.");
    expect(screen.getAllByTestId("uf-falhas")).toHaveLength(1);
    expect(screen.getByTestId("results-table")).toHaveAttribute("data-parcial", "false");
  });

  it("'Abertas agora' posts modo abertas without dates, and the results say so", async () => {
    const fetchMock = await renderPage(() => ({
      status: 200,
      body: answer({
        modo: "abertas",
        licitacoes: [
          licitacao({ codigo_pncp: "a1", objeto: "Fecha primeiro", data_encerramento: "2026-11-21T10:00:00" }),
          licitacao({ codigo_pncp: "a2", objeto: "Fecha depois", data_encerramento: "2026-11-25T17:30:00" }),
        ],
      }),
    }));
    fireEvent.click(screen.getByTestId("uf-SP"));
    fireEvent.change(screen.getByTestId("data-inicial"), { target: { value: "2026-11-20" } });
    fireEvent.change(screen.getByTestId("data-final"), { target: { value: "2026-11-10" } }); // invalid, but unused
    fireEvent.click(screen.getByTestId("somente-abertas")); // unchecked, then hidden
    fireEvent.click(screen.getByLabelText("Abertas agora"));
    expect(screen.getByTestId("modo-abertas")).toBeChecked();
    expect(screen.queryByTestId("data-inicial")).toBeNull();
    expect(screen.queryByTestId("data-final")).toBeNull();
    expect(screen.queryByTestId("somente-abertas")).toBeNull();
    expect(screen.getByTestId("modo-abertas-hint")).toHaveTextContent(
      "Todas as licitações com propostas abertas agora, de qualquer data de publicação",
    );
    await submit();

    expect(screen.queryByTestId("form-errors")).toBeNull();
    const body = JSON.parse(String(posts(fetchMock)[0]?.[1]?.body));
    expect(body).toEqual({
      search_id: SEARCH_ID,
      setor_id: "vestuario",
      ufs: ["SP"],
      modo: "abertas",
      modalidades: [4, 5, 6, 7],
      somente_abertas: true,
    });
    expect(body).not.toHaveProperty("data_inicial");
    expect(body).not.toHaveProperty("data_final");

    expect(screen.getByTestId("modo-busca")).toHaveTextContent("Abertas agora");
    expect(screen.getByTestId("modo-busca")).toHaveTextContent("encerramento mais próximo primeiro");
    const objetos = screen.getAllByTestId("result-row").map((row) => row.querySelector(".objeto")?.textContent);
    expect(objetos).toEqual(["Fecha primeiro", "Fecha depois"]); // the server's order
    expect(screen.getAllByTestId("dias-restantes")).toHaveLength(2);

    // Back to the period: its dates come back, and are checked again.
    fireEvent.click(screen.getByTestId("modo-publicacao"));
    expect(screen.getByTestId("data-inicial")).toHaveValue("2026-11-20");
    await submit();
    expect(screen.getByTestId("form-errors")).toHaveTextContent("A data final não pode ser anterior à data inicial.");
    expect(posts(fetchMock)).toHaveLength(1);
  });
});
