/**
 * Runs a search and follows it until its summary and Excel report settle.
 *
 * The progress stream is opened before the POST, so no event is missed; the answer's results
 * are shown as soon as it arrives, and events and answer are merged in whatever order they
 * come (`searchState.ts`). When the stream fails for good (the browser gave up: a deploy, a
 * proxy's cap), it is reopened from the last event id with backoff, and after that the page
 * polls the status route until the search settles.
 *
 * A stored search ("Minhas buscas") is reopened from `GET /v1/buscar/{id}`, the same answer as
 * the POST's, and followed the same way while its summary or report are still to come.
 */
import { useCallback, useEffect, useRef, useState } from "react";

import { type Api, NETWORK_ERROR, describeError, openApi, readJson, routes } from "../api";
import { TERMINAL_STAGES } from "../codes";
import type { BuscaRequest, BuscaResponse, MinhaBusca, ProgressEvent, SearchInput, SearchStatus } from "../types";
import {
  type SearchAction,
  type SearchState,
  initialSearchState,
  isRunning,
  isSettled,
  searchReducer,
} from "./searchState";

/** Waits before each reopening of a stream the browser gave up on; then polling. */
export const RECONNECT_DELAYS_MS: readonly number[] = [1000, 2000, 4000];
export const POLL_INTERVAL_MS = 2000;

const EVENT_SOURCE_CLOSED = 2; // EventSource.CLOSED
const SEARCH_GONE = "A busca não foi encontrada no servidor (pode ter expirado). Faça a busca de novo.";

export type { SearchInput };

export interface UseSearch {
  state: SearchState;
  /** A search is under way: results, summary or Excel still to come. */
  running: boolean;
  search: (request: SearchInput) => Promise<void>;
  /** Shows a stored search again, and follows it if it is not settled. */
  reopen: (busca: MinhaBusca) => Promise<void>;
}

export interface SearchOptions {
  /** How to call the API (signed in or not). */
  api?: Api;
  /** Called once the server answered a search, whatever it answered. */
  onAnswered?: () => void;
}

export function useSearch({ api = openApi, onAnswered }: SearchOptions = {}): UseSearch {
  const [state, setState] = useState<SearchState>(initialSearchState);
  // The connection logic needs the state at once, not at the next render.
  const stateRef = useRef(state);
  const followerRef = useRef<Follower | null>(null);
  const onAnsweredRef = useRef(onAnswered);
  useEffect(() => {
    onAnsweredRef.current = onAnswered;
  }, [onAnswered]);

  const dispatch = useCallback((action: SearchAction) => {
    const next = searchReducer(stateRef.current, action);
    if (next === stateRef.current) return;
    stateRef.current = next;
    setState(next);
    if (isSettled(next)) followerRef.current?.stop();
  }, []);

  useEffect(() => () => followerRef.current?.stop(), []);

  const search = useCallback(
    async (request: SearchInput) => {
      followerRef.current?.stop();
      const searchId = crypto.randomUUID();
      dispatch({ type: "started", searchId, request });
      const follower = follow(searchId, api, dispatch, () => stateRef.current);
      followerRef.current = follower;
      await follower.start(); // before the POST: the stream waits for the search to appear

      const got = await answered(() =>
        api.fetch(routes.buscar, {
          method: "POST",
          headers: { "Content-Type": "application/json", Accept: "application/json" },
          body: JSON.stringify({ ...request, search_id: searchId } satisfies BuscaRequest),
        }),
      );
      if (got === null) {
        dispatch({ type: "failed", searchId, message: NETWORK_ERROR });
        return;
      }
      const { response, body } = got;
      if (response.ok && body !== null) {
        dispatch({ type: "answered", searchId, answer: body as BuscaResponse });
      } else {
        const { message, fieldErrors } = describeError(response.status, body);
        dispatch({ type: "failed", searchId, message, fieldErrors, refusedByPlan: response.status === 403 });
      }
      onAnsweredRef.current?.();
    },
    [api, dispatch],
  );

  const reopen = useCallback(
    async (busca: MinhaBusca) => {
      followerRef.current?.stop();
      followerRef.current = null;
      const searchId = busca.search_id;
      dispatch({ type: "started", searchId, request: busca, message: "Abrindo a busca…" });
      const got = await answered(() => api.fetch(routes.busca(searchId), { headers: { Accept: "application/json" } }));
      if (got === null) {
        dispatch({ type: "failed", searchId, message: NETWORK_ERROR });
        return;
      }
      const { response, body } = got;
      if (response.ok && body !== null) {
        dispatch({ type: "answered", searchId, answer: body as BuscaResponse });
        if (stateRef.current.searchId !== searchId || isSettled(stateRef.current)) return;
        const follower = follow(searchId, api, dispatch, () => stateRef.current);
        followerRef.current = follower;
        await follower.start();
      } else {
        const message = response.status === 404 ? SEARCH_GONE : describeError(response.status, body).message;
        dispatch({ type: "failed", searchId, message });
      }
    },
    [api, dispatch],
  );

  return { state, running: isRunning(state), search, reopen };
}

/** The API's answer and its JSON body (null when it has none); null when the server could not be reached. */
async function answered(call: () => Promise<Response>): Promise<{ response: Response; body: unknown } | null> {
  let response: Response;
  try {
    response = await call();
  } catch {
    return null;
  }
  return { response, body: await readJson(response) };
}

interface Follower {
  /** Resolves once the stream is opened. */
  start(): Promise<void>;
  stop(): void;
}

/** The stream of one search, its reopenings and the polling after them. */
function follow(
  searchId: string,
  api: Api,
  dispatch: (action: SearchAction) => void,
  current: () => SearchState,
): Follower {
  let source: EventSource | null = null;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let reopenings = 0;
  let stopped = false;

  const connection = (value: "live" | "reconnecting" | "polling") =>
    dispatch({ type: "connection", searchId, connection: value });

  function closeStream(): void {
    if (source) {
      source.onopen = source.onmessage = source.onerror = null;
      source.close();
      source = null;
    }
  }

  async function open(): Promise<void> {
    if (stopped) return;
    const token = await api.streamToken(); // read at each opening: a refreshed token is used
    if (stopped) return;
    const stream = new EventSource(routes.progress(searchId, current().lastEventId, token));
    source = stream;
    stream.onopen = () => {
      reopenings = 0;
      connection("live");
    };
    stream.onmessage = (message: MessageEvent) => {
      const event = parseEvent(message.data);
      if (!event) return;
      dispatch({ type: "event", searchId, id: message.lastEventId || null, event });
      if (TERMINAL_STAGES.has(event.stage)) {
        // The server ends the stream here. If an output is still unknown (an event missed),
        // the status route has it.
        closeStream();
        if (!stopped) poll();
      }
    };
    stream.onerror = () => {
      if (stopped) return;
      if (stream.readyState !== EVENT_SOURCE_CLOSED) {
        connection("reconnecting"); // the browser retries by itself, with Last-Event-ID
        return;
      }
      closeStream();
      const delay = RECONNECT_DELAYS_MS[reopenings];
      if (delay === undefined) {
        poll();
        return;
      }
      reopenings += 1;
      connection("reconnecting");
      timer = setTimeout(() => void open(), delay);
    };
  }

  async function poll(): Promise<void> {
    if (stopped) return;
    connection("polling");
    try {
      const response = await api.fetch(routes.status(searchId), { headers: { Accept: "application/json" } });
      if (response.ok) {
        dispatch({ type: "status", searchId, status: (await response.json()) as SearchStatus });
      } else if (response.status === 404 && current().answer !== null) {
        // Answered, then gone: nothing more will come. (Before the answer it may not exist yet.)
        dispatch({ type: "failed", searchId, message: SEARCH_GONE });
      }
    } catch {
      // A network hiccup: try again at the next tick.
    }
    if (!stopped) timer = setTimeout(poll, POLL_INTERVAL_MS);
  }

  return {
    start: open,
    stop() {
      stopped = true;
      clearTimeout(timer);
      closeStream();
    },
  };
}

function parseEvent(data: unknown): ProgressEvent | null {
  if (typeof data !== "string") return null;
  try {
    const parsed: unknown = JSON.parse(data);
    if (
      typeof parsed === "object" &&
      parsed !== null &&
      typeof (parsed as ProgressEvent).stage === "string" &&
      typeof (parsed as ProgressEvent).progress === "number"
    ) {
      const event = parsed as ProgressEvent;
      return { ...event, message: typeof event.message === "string" ? event.message : "" };
    }
  } catch {
    // not JSON: ignore the message
  }
  return null;
}
