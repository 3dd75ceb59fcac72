/** The sectors a search can target, from `GET /v1/setores`. */
import { useEffect, useState } from "react";

import { routes } from "../api";
import type { Setor } from "../types";

export interface SetoresState {
  setores: Setor[];
  loading: boolean;
  error: string | null;
}

export function useSetores(): SetoresState {
  const [state, setState] = useState<SetoresState>({ setores: [], loading: true, error: null });

  useEffect(() => {
    const controller = new AbortController();
    fetch(routes.setores, { signal: controller.signal, headers: { Accept: "application/json" } })
      .then(async (response) => {
        if (!response.ok) throw new Error(String(response.status));
        const setores = (await response.json()) as Setor[];
        setState({ setores, loading: false, error: null });
      })
      .catch(() => {
        if (controller.signal.aborted) return;
        setState({
          setores: [],
          loading: false,
          error: "Não foi possível carregar os setores. Recarregue a página para tentar de novo.",
        });
      });
    return () => controller.abort();
  }, []);

  return state;
}
