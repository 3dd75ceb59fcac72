/** Who is signed in, kept in step with the auth client (this tab's sign-ins and others'). */
import { useCallback, useEffect, useState } from "react";

import type { AuthClient, Sessao } from "./client";

export const SESSION_EXPIRED = "Sua sessão expirou. Entre de novo.";

export type SessionState =
  | { status: "checking" }
  /** `notice`: why the person is asked to sign in (the session expired, the link failed). */
  | { status: "signed-out"; notice: string | null }
  | { status: "signed-in"; email: string };

export interface UseSession {
  state: SessionState;
  /** The API refused the session's token: signed out here, and told why. */
  expire: () => void;
  signOut: () => Promise<void>;
}

export function useSession(auth: AuthClient): UseSession {
  const [state, setState] = useState<SessionState>({ status: "checking" });

  useEffect(() => {
    let active = true;
    const apply = (sessao: Sessao | null) => {
      if (active) setState((current) => next(current, sessao));
    };
    const unsubscribe = auth.onChange(apply);
    Promise.all([auth.session(), auth.landingError()]).then(([sessao, landing]) => {
      if (!active) return;
      if (sessao) apply(sessao);
      else setState((current) => (current.status === "signed-in" || hasNotice(current) ? current : signedOut(landing)));
    });
    return () => {
      active = false;
      unsubscribe();
    };
  }, [auth]);

  const expire = useCallback(() => {
    setState(signedOut(SESSION_EXPIRED));
    void auth.forget();
  }, [auth]);

  const signOut = useCallback(async () => {
    await auth.signOut();
    setState(signedOut(null));
  }, [auth]);

  return { state, expire, signOut };
}

function signedOut(notice: string | null): SessionState {
  return { status: "signed-out", notice };
}

function hasNotice(state: SessionState): boolean {
  return state.status === "signed-out" && state.notice !== null;
}

/** The state after the client reported a session (or none); the same object when nothing changed. */
function next(current: SessionState, sessao: Sessao | null): SessionState {
  if (sessao === null) return current.status === "signed-out" ? current : signedOut(null);
  if (current.status === "signed-in" && current.email === sessao.email) return current;
  return { status: "signed-in", email: sessao.email };
}
