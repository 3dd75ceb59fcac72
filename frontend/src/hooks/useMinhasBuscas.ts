/** The signed-in person's searches (`GET /v1/buscas?pagina=N`), newest first, a page at a time. */
import { useState } from "react";

import { type Api, routes } from "../api";
import type { MinhasBuscasPagina } from "../types";
import { useApiJson } from "./useApiJson";

/** Searches per page of `GET /v1/buscas`. */
export const POR_PAGINA = 20;

export interface MinhasBuscasState {
  pagina: number;
  /** The page shown (the previous one while the next loads); null before the first. */
  lista: MinhasBuscasPagina | null;
  error: string | null;
  showPage: (pagina: number) => void;
}

/** `refreshKey`: a new value reads the list again from its first page (a search was just made). */
export function useMinhasBuscas(api: Api, refreshKey: number): MinhasBuscasState {
  const [pagina, setPagina] = useState(1);
  const [seenKey, setSeenKey] = useState(refreshKey);
  if (seenKey !== refreshKey) {
    setSeenKey(refreshKey);
    setPagina(1);
  }
  const { data: lista, error } = useApiJson<MinhasBuscasPagina>(
    api, routes.buscas(pagina), "Não foi possível carregar suas buscas.", refreshKey,
  );

  return { pagina, lista, error, showPage: setPagina };
}
