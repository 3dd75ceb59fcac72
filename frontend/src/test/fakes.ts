/**
 * Fakes of the browser's EventSource and fetch, installed on globalThis by the tests. Both
 * record into one shared log, so a test can check what happened in which order.
 */
import { vi } from "vitest";

import type { ProgressEvent } from "../types";

export const calls: string[] = [];

export class FakeEventSource {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSED = 2;
  static instances: FakeEventSource[] = [];

  readonly url: string;
  readyState = FakeEventSource.CONNECTING;
  onopen: ((event: Event) => void) | null = null;
  onmessage: ((event: MessageEvent) => void) | null = null;
  onerror: ((event: Event) => void) | null = null;

  constructor(url: string | URL) {
    this.url = String(url);
    FakeEventSource.instances.push(this);
    calls.push(`sse ${this.url}`);
  }

  static get latest(): FakeEventSource {
    const last = FakeEventSource.instances.at(-1);
    if (!last) throw new Error("no EventSource was opened");
    return last;
  }

  open(): void {
    this.readyState = FakeEventSource.OPEN;
    this.onopen?.(new Event("open"));
  }

  emit({ id, event }: { id: string; event: ProgressEvent }): void {
    if (this.readyState === FakeEventSource.CLOSED) throw new Error(`emit on a closed stream: ${this.url}`);
    this.readyState = FakeEventSource.OPEN;
    this.onmessage?.(new MessageEvent("message", { data: JSON.stringify(event), lastEventId: id }));
  }

  /** The browser gave up (a non-200 answer, a 204, a wrong content type): CLOSED, then `error`. */
  giveUp(): void {
    this.readyState = FakeEventSource.CLOSED;
    this.onerror?.(new Event("error"));
  }

  /** The connection dropped and the browser retries by itself: CONNECTING, then `error`. */
  drop(): void {
    this.readyState = FakeEventSource.CONNECTING;
    this.onerror?.(new Event("error"));
  }

  close(): void {
    this.readyState = FakeEventSource.CLOSED;
    calls.push(`close ${this.url}`);
  }
}

export interface FakeResponse {
  status: number;
  body: unknown;
}

type Route = (init: RequestInit | undefined) => FakeResponse | Promise<FakeResponse>;

/** A fetch answering by "METHOD path"; unknown routes answer 404. */
export function installFetch(routes: Record<string, Route>) {
  const fetchMock = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const key = `${init?.method ?? "GET"} ${String(input)}`;
    calls.push(key);
    const route = routes[key];
    const { status, body } = route ? await route(init) : { status: 404, body: { detail: "não encontrado" } };
    return {
      ok: status >= 200 && status < 300,
      status,
      json: async () => {
        if (body === undefined) throw new SyntaxError("no body");
        return structuredClone(body);
      },
    } as Response;
  });
  vi.stubGlobal("fetch", fetchMock);
  return fetchMock;
}

export function installEventSource(): void {
  FakeEventSource.instances = [];
  vi.stubGlobal("EventSource", FakeEventSource);
}

/** A promise resolved from outside: lets a test decide when the POST answers. */
export function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}
