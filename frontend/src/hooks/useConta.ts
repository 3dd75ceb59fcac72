/** The signed-in person's account (`GET /v1/conta`): plan and searches left, read again on demand and on focus. */
import { useCallback, useEffect, useState } from "react";

import { type Api, routes } from "../api";
import type { Conta } from "../types";
import { useApiJson } from "./useApiJson";

export interface ContaState {
  conta: Conta | null;
  error: string | null;
  /** Reads the account again (after a search, the searches left went down). */
  reload: () => void;
}

export function useConta(api: Api): ContaState {
  const [version, setVersion] = useState(0);
  const reload = useCallback(() => setVersion((v) => v + 1), []);
  const { data: conta, error } = useApiJson<Conta>(api, routes.conta, "Não foi possível carregar os dados da sua conta.",
    version);

  // Another tab may have searched meanwhile.
  useEffect(() => {
    window.addEventListener("focus", reload);
    return () => window.removeEventListener("focus", reload);
  }, [reload]);

  return { conta, error, reload };
}
