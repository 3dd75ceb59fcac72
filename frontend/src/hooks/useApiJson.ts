/** A JSON body read from the API, again whenever `path` or `version` changes; the previous one stays while the next loads. */
import { useEffect, useState } from "react";

import type { Api } from "../api";

export interface ApiJson<T> {
  data: T | null;
  error: string | null;
}

/** `failure`: what to tell the person when the body cannot be read. */
export function useApiJson<T>(api: Api, path: string, failure: string, version = 0): ApiJson<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    const controller = new AbortController();
    api
      .fetch(path, { signal: controller.signal, headers: { Accept: "application/json" } })
      .then(async (response) => {
        if (!response.ok) throw new Error(String(response.status));
        const body = (await response.json()) as T;
        if (controller.signal.aborted) return;
        setData(body);
        setError(null);
      })
      .catch(() => {
        if (!controller.signal.aborted) setError(failure);
      });
    return () => controller.abort();
  }, [api, path, failure, version]);

  return { data, error };
}
