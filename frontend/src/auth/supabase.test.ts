/**
 * The page's sign-in over the real supabase-js, against answers shaped as Supabase Auth's
 * (GoTrue's) through a fake `fetch`.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import type { AuthClient } from "./client";
import { connectSupabase, describeAuthError } from "./supabase";

const EMAIL = "ana@example.com";
const PASSWORD = "segredo123";
const ANON_KEY = "anon-key-do-projeto";

interface Sent {
  method: string;
  url: URL;
  headers: Headers;
  body: Record<string, unknown> | null;
}

let sent: Sent[] = [];
let projects = 0;
let project = "";

function user() {
  return { id: "3b6f1c1e-0000-4000-8000-000000000001", aud: "authenticated", role: "authenticated", email: EMAIL,
    app_metadata: { provider: "email" }, user_metadata: {}, created_at: "2026-11-01T00:00:00Z" };
}

function session(accessToken: string) {
  const now = Math.floor(Date.now() / 1000);
  return { access_token: accessToken, token_type: "bearer", expires_in: 3600, expires_at: now + 3600,
    refresh_token: `refresh-${accessToken}`, user: user() };
}

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json", "X-Supabase-Api-Version": "2024-01-01" },
  });
}

/** GoTrue as supabase-js 2 calls it, with the 2024-01-01 error shape. */
function goTrue(request: Sent): Response {
  const route = `${request.method} ${request.url.pathname}`;
  switch (route) {
    case "POST /auth/v1/token":
      if (request.body?.email === EMAIL && request.body?.password === PASSWORD) return json(200, session("access-1"));
      return json(400, { code: "invalid_credentials", message: "Invalid login credentials" });
    case "POST /auth/v1/otp":
      return json(200, {});
    case "GET /auth/v1/user":
      return json(200, user());
    case "POST /auth/v1/logout":
      return new Response(null, { status: 204 });
  }
  return json(404, { code: "not_found", message: "not found" });
}

function installGoTrue(answer: (request: Sent) => Response | Promise<Response> = goTrue) {
  vi.stubGlobal("fetch", async (input: RequestInfo | URL, init?: RequestInit) => {
    const request: Sent = {
      method: init?.method ?? "GET",
      url: new URL(String(input)),
      headers: new Headers(init?.headers),
      body: typeof init?.body === "string" ? JSON.parse(init.body) : null,
    };
    sent.push(request);
    return answer(request);
  });
}

/** A client of a project of its own: each test its own storage key, as separate sites would have. */
function connect(): Promise<AuthClient> {
  projects += 1;
  project = `projeto${projects}`;
  return connectSupabase(`https://${project}.supabase.test`, ANON_KEY);
}

const stored = () => localStorage.getItem(`sb-${project}-auth-token`);

beforeEach(() => {
  sent = [];
  localStorage.clear();
  window.history.replaceState(null, "", "/");
  installGoTrue();
});

afterEach(() => {
  window.history.replaceState(null, "", "/");
});

describe("sign-in with Supabase Auth", () => {
  it("signs in with e-mail and password; the session is kept in localStorage", async () => {
    const auth = await connect();
    expect(await auth.session()).toBeNull();
    const changes: unknown[] = [];
    auth.onChange((sessao) => changes.push(sessao));

    expect(await auth.signInWithPassword(EMAIL, PASSWORD)).toBeNull();
    const [signIn] = sent.filter((r) => r.url.pathname === "/auth/v1/token");
    expect(signIn?.method).toBe("POST");
    expect(signIn?.url.searchParams.get("grant_type")).toBe("password");
    expect(signIn?.headers.get("apikey")).toBe(ANON_KEY);
    expect(signIn?.body).toMatchObject({ email: EMAIL, password: PASSWORD });

    expect(await auth.session()).toEqual({ email: EMAIL, accessToken: "access-1" });
    expect(JSON.parse(stored() ?? "{}")).toMatchObject({ access_token: "access-1", refresh_token: "refresh-access-1" });
    await vi.waitFor(() => expect(changes).toContainEqual({ email: EMAIL, accessToken: "access-1" }));
  });

  it("opens with the session kept from before", async () => {
    projects += 1;
    project = `projeto${projects}`;
    localStorage.setItem(`sb-${project}-auth-token`, JSON.stringify(session("kept")));
    const auth = await connectSupabase(`https://${project}.supabase.test`, ANON_KEY);
    expect(await auth.session()).toEqual({ email: EMAIL, accessToken: "kept" });
    expect(await auth.landingError()).toBeNull();
  });

  it("says in Portuguese why a sign-in failed", async () => {
    const auth = await connect();
    expect(await auth.signInWithPassword(EMAIL, "errada")).toBe("E-mail ou senha incorretos.");
    expect(await auth.session()).toBeNull();

    installGoTrue(() => {
      throw new TypeError("Failed to fetch");
    });
    expect(await auth.signInWithPassword(EMAIL, PASSWORD)).toMatch(/Não foi possível falar com o serviço de login/);
  });

  it("sends a magic link that comes back to the page", async () => {
    const auth = await connect();
    expect(await auth.sendMagicLink(EMAIL)).toBeNull();
    const [otp] = sent;
    expect(`${otp?.method} ${otp?.url.pathname}`).toBe("POST /auth/v1/otp");
    expect(otp?.url.searchParams.get("redirect_to")).toBe(`${window.location.origin}/`);
    expect(otp?.body).toMatchObject({ email: EMAIL, create_user: true });
  });

  it("signs in from a magic link's landing, and takes the tokens out of the address", async () => {
    const expiresAt = Math.floor(Date.now() / 1000) + 3600;
    window.history.replaceState(null, "", `/#access_token=from-link&expires_at=${expiresAt}&expires_in=3600` +
      "&refresh_token=refresh-link&token_type=bearer&type=magiclink");
    const auth = await connect();
    expect(await auth.session()).toEqual({ email: EMAIL, accessToken: "from-link" });
    expect(await auth.landingError()).toBeNull();
    const [check] = sent;
    expect(`${check?.method} ${check?.url.pathname}`).toBe("GET /auth/v1/user");
    expect(check?.headers.get("Authorization")).toBe("Bearer from-link");
    expect(window.location.hash).toBe("");
  });

  it("says why a magic link did not sign in, once", async () => {
    window.history.replaceState(null, "", "/?de=email#error=access_denied&error_code=otp_expired" +
      "&error_description=Email+link+is+invalid+or+has+expired");
    const auth = await connect();
    expect(await auth.landingError()).toBe("O link de acesso expirou ou já foi usado. Peça um novo.");
    expect(await auth.session()).toBeNull();
    expect(window.location.hash).toBe("");
    expect(window.location.search).toBe("?de=email");
  });

  it("signs out everywhere; the session is gone", async () => {
    const auth = await connect();
    await auth.signInWithPassword(EMAIL, PASSWORD);
    const changes: unknown[] = [];
    auth.onChange((sessao) => changes.push(sessao));
    await auth.signOut();
    const logout = sent.at(-1);
    expect(`${logout?.method} ${logout?.url.pathname}${logout?.url.search}`).toBe("POST /auth/v1/logout?scope=global");
    expect(logout?.headers.get("Authorization")).toBe("Bearer access-1");
    expect(await auth.session()).toBeNull();
    expect(stored()).toBeNull();
    await vi.waitFor(() => expect(changes.at(-1)).toBeNull());
  });

  it("signs out this device even when the server cannot be told", async () => {
    const auth = await connect();
    await auth.signInWithPassword(EMAIL, PASSWORD);
    installGoTrue(() => json(503, { code: "unexpected_failure", message: "indisponível" }));
    await auth.signOut();
    expect(await auth.session()).toBeNull();
  });

  it("forgets a session the API refused, here only", async () => {
    const auth = await connect();
    await auth.signInWithPassword(EMAIL, PASSWORD);
    installGoTrue(() => json(403, { code: "session_not_found", message: "Session not found" }));
    await auth.forget();
    expect(sent.at(-1)?.url.search).toBe("?scope=local");
    expect(await auth.session()).toBeNull();
  });
});

describe("describeAuthError", () => {
  it.each([
    [{ name: "AuthApiError", code: "invalid_credentials", status: 400 }, "E-mail ou senha incorretos."],
    [{ name: "AuthApiError", code: "email_not_confirmed", status: 400 }, "Confirme seu e-mail"],
    [{ name: "AuthApiError", code: "validation_failed", status: 400 }, "Informe um e-mail válido."],
    [{ name: "AuthApiError", code: "over_email_send_rate_limit", status: 429 }, "Muitos e-mails enviados"],
    [{ name: "AuthApiError", code: undefined, status: 429 }, "Muitas tentativas"],
    [{ name: "AuthRetryableFetchError", code: undefined, status: 0 }, "Não foi possível falar com o serviço de login"],
    [
      { name: "AuthImplicitGrantRedirectError", code: undefined, status: 500,
        details: { error: "access_denied", code: "otp_expired" } },
      "O link de acesso expirou",
    ],
    [{ name: "AuthApiError", code: "something_new", status: 400 }, "Não foi possível entrar. Tente novamente."],
  ])("%o", (error, expected) => {
    expect(describeAuthError(error)).toContain(expected);
  });
});
