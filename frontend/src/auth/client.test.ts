import { beforeEach, describe, expect, it, vi } from "vitest";

import { FakeAuth } from "../test/fakeAuth";
import { calls, installFetch } from "../test/fakes";
import { signedApi } from "./client";

beforeEach(() => {
  calls.length = 0;
});

const authorization = (init: RequestInit | undefined) => new Headers(init?.headers).get("Authorization");

describe("signedApi", () => {
  it("sends the session's current token, keeping the call's own headers", async () => {
    const auth = FakeAuth.signedIn();
    const fetchMock = installFetch({ "POST /v1/buscar": () => ({ status: 200, body: {} }) });
    const api = signedApi(auth, vi.fn());
    await api.fetch("/v1/buscar", { method: "POST", headers: { "Content-Type": "application/json" } });
    auth.refresh();
    await api.fetch("/v1/buscar", { method: "POST" });
    const [first, second] = fetchMock.mock.calls.map(([, init]) => init);
    expect(authorization(first)).toBe("Bearer token-1");
    expect(new Headers(first?.headers).get("Content-Type")).toBe("application/json");
    expect(authorization(second)).toBe("Bearer token-2");
    expect(await api.streamToken()).toBe("token-2");
  });

  it("says the session is over on a 401, and only then", async () => {
    const onExpired = vi.fn();
    installFetch({
      "GET /v1/conta": () => ({ status: 401, body: { detail: "Sua sessão expirou; entre novamente." } }),
      "POST /v1/buscar": () => ({ status: 403, body: { detail: "Sem buscas neste mês." } }),
    });
    const api = signedApi(FakeAuth.signedIn(), onExpired);
    expect((await api.fetch("/v1/buscar", { method: "POST" })).status).toBe(403);
    expect(onExpired).not.toHaveBeenCalled();
    expect((await api.fetch("/v1/conta")).status).toBe(401);
    expect(onExpired).toHaveBeenCalledOnce();
  });

  it("sends no token when signed out (the API then says 401)", async () => {
    const fetchMock = installFetch({});
    const api = signedApi(new FakeAuth(), vi.fn());
    await api.fetch("/v1/conta");
    expect(authorization(fetchMock.mock.calls[0]?.[1])).toBeNull();
    expect(await api.streamToken()).toBeNull();
  });
});
