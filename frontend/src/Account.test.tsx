import { act, fireEvent, render, screen, within } from "@testing-library/react";
import { beforeEach, describe, expect, it, vi } from "vitest";

import { App } from "./App";
import { EMAIL, FakeAuth, PASSWORD } from "./test/fakeAuth";
import { FakeEventSource, type FakeResponse, calls, installEventSource, installFetch } from "./test/fakes";
import { EVENTS, SEARCH_ID, answer, resumo } from "./test/fixtures";
import type { Conta, MinhaBusca, MinhasBuscasPagina } from "./types";

const SETORES = [
  { id: "vestuario", nome: "Vestuário e uniformes", descricao: "Uniformes, jalecos, calçados." },
  { id: "limpeza", nome: "Limpeza", descricao: "Produtos e serviços de limpeza." },
];
const SIGN_IN = { auth: "supabase", supabase_url: "https://projeto.supabase.test", supabase_anon_key: "anon" };

function conta(overrides: Partial<Conta> = {}): Conta {
  return {
    user_id: "3b6f1c1e-0000-4000-8000-000000000001",
    email: EMAIL,
    plano: { id: "free", nome: "Gratuito" },
    buscas_mes: 10,
    usadas: 3,
    restantes: 7,
    renova_em: "2027-01-01",
    excel: false,
    ...overrides,
  };
}

function minhaBusca(overrides: Partial<MinhaBusca> = {}): MinhaBusca {
  return {
    search_id: SEARCH_ID,
    created_at: "2026-11-20T15:04:00+00:00",
    setor_id: "vestuario",
    ufs: ["RJ", "SP"],
    modo: "publicacao",
    data_inicial: "2026-11-10",
    data_final: "2026-11-20",
    total_filtrado: 2,
    llm_status: "ready",
    excel_status: "skipped",
    ...overrides,
  };
}

function lista(buscas: MinhaBusca[], total = buscas.length, pagina = 1): MinhasBuscasPagina {
  return { buscas, pagina, total };
}

const NOTHING_YET = () => ({ status: 200, body: lista([]) });

type Routes = Record<string, (init?: RequestInit) => FakeResponse | Promise<FakeResponse>>;

beforeEach(() => {
  calls.length = 0;
  installEventSource();
  vi.spyOn(crypto, "randomUUID").mockReturnValue(SEARCH_ID);
});

function renderPage(auth: FakeAuth, routes: Routes = {}) {
  const fetchMock = installFetch({
    "GET /v1/config": () => ({ status: 200, body: SIGN_IN }),
    "GET /v1/setores": () => ({ status: 200, body: SETORES }),
    "GET /v1/conta": () => ({ status: 200, body: conta() }),
    "GET /v1/buscas?pagina=1": NOTHING_YET,
    ...routes,
  });
  render(<App connect={async () => auth} />);
  return fetchMock;
}

/** The `Authorization` header of each call to `key` ("METHOD path"), in order. */
function authorizations(fetchMock: ReturnType<typeof installFetch>, key: string): (string | null)[] {
  return fetchMock.mock.calls
    .filter(([url, init]) => `${init?.method ?? "GET"} ${String(url)}` === key)
    .map(([, init]) => new Headers(init?.headers).get("Authorization"));
}

async function signedInPage(routes: Routes = {}) {
  const auth = FakeAuth.signedIn();
  const fetchMock = renderPage(auth, routes);
  await screen.findByTestId("conta-plano");
  await screen.findByRole("option", { name: "Limpeza" });
  return { auth, fetchMock };
}

async function search() {
  fireEvent.click(screen.getByTestId("uf-SP"));
  await act(async () => {
    fireEvent.click(screen.getByTestId("submit"));
  });
}

describe("the page with sign-in", () => {
  it("asks to sign in first, then shows the account, the search and the person's searches", async () => {
    const auth = new FakeAuth();
    const fetchMock = renderPage(auth);
    const form = await screen.findByTestId("login-form");
    expect(screen.queryByTestId("search-form")).toBeNull();
    expect(screen.queryByTestId("minhas-buscas")).toBeNull();
    expect(screen.getByLabelText("E-mail")).toBe(screen.getByTestId("login-email"));
    expect(screen.getByLabelText("Senha")).toBe(screen.getByTestId("login-password"));

    fireEvent.change(screen.getByTestId("login-email"), { target: { value: ` ${EMAIL} ` } });
    fireEvent.change(screen.getByTestId("login-password"), { target: { value: PASSWORD } });
    await act(async () => {
      fireEvent.submit(form);
    });

    expect(await screen.findByTestId("conta-plano")).toHaveTextContent(/^Gratuito$/);
    const quota = screen.getByTestId("quota");
    expect(quota).toHaveAttribute("data-restantes", "7");
    expect(quota).toHaveTextContent("7 de 10 buscas restantes neste mês · renovam em 01/01/2027");
    expect(screen.getByText(EMAIL)).toBeInTheDocument();
    expect(screen.getByTestId("search-form")).toBeInTheDocument();
    expect(screen.queryByTestId("login-form")).toBeNull();
    expect(await screen.findByTestId("minhas-buscas")).toHaveTextContent("Você ainda não fez nenhuma busca.");
    expect(auth.log).toEqual([`signIn ${EMAIL}`]);
    expect(authorizations(fetchMock, "GET /v1/conta")).toEqual(["Bearer token-1"]);
    expect(authorizations(fetchMock, "GET /v1/buscas?pagina=1")).toEqual(["Bearer token-1"]);
  });

  it("says in Portuguese what went wrong with a sign-in", async () => {
    renderPage(new FakeAuth());
    const form = await screen.findByTestId("login-form");
    await act(async () => {
      fireEvent.submit(form);
    });
    expect(screen.getByTestId("login-error")).toHaveTextContent("Informe seu e-mail e sua senha.");

    fireEvent.change(screen.getByTestId("login-email"), { target: { value: EMAIL } });
    fireEvent.change(screen.getByTestId("login-password"), { target: { value: "errada" } });
    await act(async () => {
      fireEvent.click(screen.getByTestId("login-submit"));
    });
    expect(screen.getByTestId("login-error")).toHaveTextContent("E-mail ou senha incorretos.");
    expect(screen.getByTestId("login-form")).toBeInTheDocument();
  });

  it("sends a sign-in link to the e-mail", async () => {
    const auth = new FakeAuth();
    renderPage(auth);
    await screen.findByTestId("login-form");
    await act(async () => {
      fireEvent.click(screen.getByTestId("login-magic-link"));
    });
    expect(screen.getByTestId("login-error")).toHaveTextContent("Informe seu e-mail para receber o link de acesso.");

    fireEvent.change(screen.getByTestId("login-email"), { target: { value: "novo@example.com" } });
    await act(async () => {
      fireEvent.click(screen.getByTestId("login-magic-link"));
    });
    expect(screen.getByText("Enviamos um link de acesso para novo@example.com.")).toBeInTheDocument();
    expect(screen.queryByTestId("login-error")).toBeNull();
    expect(auth.log).toEqual(["magicLink novo@example.com"]);
  });

  it("says why a sign-in link did not work", async () => {
    const auth = new FakeAuth();
    auth.landing = "O link de acesso expirou ou já foi usado. Peça um novo.";
    renderPage(auth);
    expect(await screen.findByTestId("login-notice")).toHaveTextContent("O link de acesso expirou ou já foi usado.");
  });

  it("keeps a session from before: no sign-in asked", async () => {
    await signedInPage();
    expect(screen.queryByTestId("login-form")).toBeNull();
  });

  it("sends the token with the search and on the stream's URL; reads the account and the list again after", async () => {
    const contas = [conta(), conta({ usadas: 4, restantes: 6 })];
    const listas = [lista([]), lista([minhaBusca({ llm_status: "processing", excel_status: "processing" })])];
    const { fetchMock } = await signedInPage({
      "GET /v1/conta": () => ({ status: 200, body: contas.shift() ?? conta({ usadas: 4, restantes: 6 }) }),
      "GET /v1/buscas?pagina=1": () => ({ status: 200, body: listas.shift() ?? lista([minhaBusca()]) }),
      "POST /v1/buscar": () => ({ status: 200, body: answer() }),
    });
    expect(screen.getByTestId("quota")).toHaveAttribute("data-restantes", "7");

    await search();
    expect(FakeEventSource.latest.url).toBe(`/v1/buscar-progress/${SEARCH_ID}?access_token=token-1`);
    expect(authorizations(fetchMock, "POST /v1/buscar")).toEqual(["Bearer token-1"]);
    expect(await screen.findAllByTestId("result-row")).toHaveLength(2);
    await screen.findByText(/6 de 10 buscas restantes/);
    expect(screen.getByTestId("quota")).toHaveAttribute("data-restantes", "6");
    expect(await screen.findAllByTestId("minha-busca")).toHaveLength(1);
    expect(authorizations(fetchMock, "GET /v1/conta")).toEqual(["Bearer token-1", "Bearer token-1"]);
  });

  it("uses the token refreshed meanwhile: on the stream's reopening and when the tab comes back", async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    try {
      const { auth, fetchMock } = await signedInPage({ "POST /v1/buscar": () => ({ status: 200, body: answer() }) });
      await search();
      act(() => auth.refresh());
      await act(async () => FakeEventSource.latest.giveUp());
      await act(() => vi.advanceTimersByTimeAsync(1000));
      expect(FakeEventSource.latest.url).toContain("access_token=token-2");
      await act(async () => {
        window.dispatchEvent(new Event("focus"));
      });
      expect(authorizations(fetchMock, "GET /v1/conta").at(-1)).toBe("Bearer token-2");
    } finally {
      vi.useRealTimers();
    }
  });

  it("a search the plan refuses says why, the plan and how to get more", async () => {
    const detail = "Você já fez as 10 buscas do plano Gratuito neste mês. Elas renovam em 01/01/2027.";
    await signedInPage({ "POST /v1/buscar": () => ({ status: 403, body: { detail, mensagem: detail } }) });
    await search();
    const notice = await screen.findByTestId("quota-exceeded");
    expect(notice).toHaveTextContent(detail);
    expect(notice).toHaveTextContent("Seu plano: Gratuito. Para mais buscas, assine o plano Pro.");
    expect(screen.queryByTestId("search-error")).toBeNull();
  });

  it("an expired session goes back to the sign-in, saying so", async () => {
    const { auth } = await signedInPage({
      "POST /v1/buscar": () => ({ status: 401, body: { detail: "Sua sessão expirou; entre novamente." } }),
    });
    await search();
    expect(await screen.findByTestId("login-form")).toBeInTheDocument();
    expect(screen.getByTestId("login-notice")).toHaveTextContent("Sua sessão expirou. Entre de novo.");
    expect(screen.queryByTestId("search-form")).toBeNull();
    expect(auth.log).toEqual(["forget"]);
    expect(FakeEventSource.latest.readyState).toBe(FakeEventSource.CLOSED);
  });

  it("an account the server no longer accepts goes back to the sign-in too", async () => {
    const auth = FakeAuth.signedIn();
    renderPage(auth, {
      "GET /v1/conta": () => ({ status: 401, body: { detail: "Sua sessão expirou; entre novamente." } }),
    });
    expect(await screen.findByTestId("login-notice")).toHaveTextContent("Sua sessão expirou. Entre de novo.");
  });

  it("lists the person's searches: when (Brasília), sector, UFs, period and how many", async () => {
    await signedInPage({
      "GET /v1/buscas?pagina=1": () => ({
        status: 200,
        body: lista([
          minhaBusca(),
          minhaBusca({
            search_id: "b2",
            created_at: "2026-11-19T02:30:00Z",
            setor_id: "limpeza",
            ufs: ["MG"],
            modo: "abertas",
            data_inicial: null,
            data_final: null,
            total_filtrado: 1,
          }),
        ]),
      }),
    });
    const [first, second] = await screen.findAllByTestId("minha-busca");
    expect(first).toHaveTextContent("20/11/2026 12:04");
    expect(first).toHaveTextContent("Vestuário e uniformes");
    expect(first).toHaveTextContent("RJ, SP");
    expect(first).toHaveTextContent("Publicadas de 10/11/2026 a 20/11/2026");
    expect(first).toHaveTextContent("2 licitações");
    expect(second).toHaveTextContent("18/11/2026 23:30");
    expect(second).toHaveTextContent("Limpeza");
    expect(second).toHaveTextContent("Abertas agora");
    expect(second).toHaveTextContent("1 licitação");
    expect(screen.queryByRole("button", { name: "Mais antigas" })).toBeNull();
  });

  it("reopens a settled search with the same results, summary and report as a fresh answer", async () => {
    const skipped = "A planilha faz parte do plano Pro.";
    const { fetchMock } = await signedInPage({
      "GET /v1/buscas?pagina=1": () => ({ status: 200, body: lista([minhaBusca()]) }),
      [`GET /v1/buscar/${SEARCH_ID}`]: () => ({
        status: 200,
        body: answer({ llm_status: "ready", resumo: resumo(), excel_status: "skipped", excel_error: skipped }),
      }),
    });
    await act(async () => {
      fireEvent.click(await screen.findByTestId("minha-busca"));
    });
    expect(await screen.findAllByTestId("result-row")).toHaveLength(2);
    expect(screen.getByTestId("modo-busca")).toHaveTextContent("Publicadas de 10/11/2026 a 20/11/2026");
    expect(screen.getByTestId("resumo")).toHaveAttribute("data-status", "ready");
    expect(screen.getByTestId("excel-skipped")).toHaveTextContent(skipped);
    expect(screen.getByTestId("progress")).toHaveAttribute("data-stage", "complete");
    expect(screen.getByTestId("minha-busca")).toHaveAttribute("aria-current", "true");
    expect(FakeEventSource.instances).toHaveLength(0); // nothing more to come
    expect(authorizations(fetchMock, `GET /v1/buscar/${SEARCH_ID}`)).toEqual(["Bearer token-1"]);
  });

  it("reopens a search still under way and follows its stream", async () => {
    await signedInPage({
      "GET /v1/buscas?pagina=1": () => ({
        status: 200,
        body: lista([minhaBusca({ llm_status: "processing", excel_status: "processing" })]),
      }),
      [`GET /v1/buscar/${SEARCH_ID}`]: () => ({ status: 200, body: answer() }),
    });
    await act(async () => {
      fireEvent.click(await screen.findByTestId("minha-busca"));
    });
    const stream = FakeEventSource.latest;
    expect(stream.url).toBe(`/v1/buscar-progress/${SEARCH_ID}?access_token=token-1`);
    expect(screen.getByTestId("resumo")).toHaveAttribute("data-status", "processing");
    act(() => stream.emit(EVENTS.llmReady));
    act(() => stream.emit(EVENTS.excelReady));
    expect(screen.getByTestId("resumo")).toHaveAttribute("data-status", "ready");
    expect(screen.getByTestId("excel-download")).toHaveAttribute("href", "/v1/arquivos/abc.xlsx?expira=1&token=t");
  });

  it("says so when a listed search is gone", async () => {
    await signedInPage({
      "GET /v1/buscas?pagina=1": () => ({ status: 200, body: lista([minhaBusca()]) }),
    });
    await act(async () => {
      fireEvent.click(await screen.findByTestId("minha-busca"));
    });
    expect(screen.getByTestId("search-error")).toHaveTextContent("A busca não foi encontrada no servidor");
  });

  it("pages through older searches, 20 at a time", async () => {
    const page = (n: number) =>
      Array.from({ length: 20 }, (_, i) => minhaBusca({ search_id: `p${n}-${i}`, total_filtrado: i }));
    const { fetchMock } = await signedInPage({
      "GET /v1/buscas?pagina=1": () => ({ status: 200, body: lista(page(1), 45, 1) }),
      "GET /v1/buscas?pagina=2": () => ({ status: 200, body: lista(page(2), 45, 2) }),
    });
    expect(await screen.findAllByTestId("minha-busca")).toHaveLength(20);
    const nav = screen.getByRole("navigation", { name: "Páginas de Minhas buscas" });
    expect(nav).toHaveTextContent("Página 1 de 3");
    expect(within(nav).getByRole("button", { name: "Mais recentes" })).toBeDisabled();
    await act(async () => {
      fireEvent.click(within(nav).getByRole("button", { name: "Mais antigas" }));
    });
    expect(nav).toHaveTextContent("Página 2 de 3");
    expect(screen.getAllByTestId("minha-busca")[0]).toHaveAttribute("data-search-id", "p2-0");
    expect(authorizations(fetchMock, "GET /v1/buscas?pagina=2")).toEqual(["Bearer token-1"]);
  });

  it("signs out", async () => {
    const { auth } = await signedInPage();
    await act(async () => {
      fireEvent.click(screen.getByTestId("logout"));
    });
    expect(screen.getByTestId("login-form")).toBeInTheDocument();
    expect(screen.queryByTestId("login-notice")).toBeNull();
    expect(auth.log).toEqual(["signOut"]);
  });
});

describe("the page without sign-in", () => {
  it("has no sign-in, no account and no list, and sends no token", async () => {
    const fetchMock = installFetch({
      "GET /v1/config": () => ({ status: 200, body: { auth: "off", supabase_url: null, supabase_anon_key: null } }),
      "GET /v1/setores": () => ({ status: 200, body: SETORES }),
      "POST /v1/buscar": () => ({ status: 200, body: answer() }),
    });
    const connect = vi.fn();
    render(<App connect={connect} />);
    await screen.findByRole("option", { name: "Limpeza" });
    await search();
    expect(await screen.findAllByTestId("result-row")).toHaveLength(2);
    expect(FakeEventSource.latest.url).toBe(`/v1/buscar-progress/${SEARCH_ID}`);
    expect(authorizations(fetchMock, "POST /v1/buscar")).toEqual([null]);
    for (const id of ["login-form", "conta-plano", "quota", "logout", "minhas-buscas"]) {
      expect(screen.queryByTestId(id)).toBeNull();
    }
    expect(calls.filter((c) => c.includes("/v1/conta") || c.includes("/v1/buscas"))).toEqual([]);
    expect(connect).not.toHaveBeenCalled();
  });

  it("says so when the service cannot be read", async () => {
    installFetch({ "GET /v1/config": () => ({ status: 503, body: { detail: "indisponível" } }) });
    render(<App connect={vi.fn()} />);
    expect(await screen.findByTestId("startup-error")).toHaveTextContent("Não foi possível carregar o SmartLic.");
    expect(screen.queryByTestId("search-form")).toBeNull();
  });
});
