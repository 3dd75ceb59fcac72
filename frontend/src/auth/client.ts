/**
 * What the page needs of sign-in, whoever provides it (Supabase Auth in `supabase.ts`), and the
 * API called with the session's access token.
 */
import type { Api } from "../api";

/** A signed-in person, as the page sees them. */
export interface Sessao {
  email: string;
  accessToken: string;
}

export interface AuthClient {
  /** The session now (its token refreshed when due), or null when signed out. */
  session(): Promise<Sessao | null>;
  /** Called on each sign-in, sign-out and token refresh; returns the unsubscribe. */
  onChange(listener: (sessao: Sessao | null) => void): () => void;
  /** Each of these answers what went wrong, for a person, or null when it worked. */
  signInWithPassword(email: string, password: string): Promise<string | null>;
  sendMagicLink(email: string): Promise<string | null>;
  /** What went wrong with the sign-in link the page was opened from, if it was. */
  landingError(): Promise<string | null>;
  signOut(): Promise<void>;
  /** Forgets the session on this device only: the API refused its token. */
  forget(): Promise<void>;
}

/**
 * The API with `Authorization: Bearer <access token>` on every call, the token read at call
 * time (so a refreshed one is used); a 401 means the session is over: `onExpired`.
 */
export function signedApi(auth: AuthClient, onExpired: () => void): Api {
  return {
    async fetch(url, init = {}) {
      const sessao = await auth.session();
      const headers = new Headers(init.headers);
      if (sessao) headers.set("Authorization", `Bearer ${sessao.accessToken}`);
      const response = await fetch(url, { ...init, headers });
      if (response.status === 401) onExpired();
      return response;
    },
    async streamToken() {
      return (await auth.session())?.accessToken ?? null;
    },
  };
}
