/**
 * Sign-in with Supabase Auth (supabase-js): the session is kept in localStorage and refreshed
 * before it expires, and a magic link landing at the page (`#access_token=...`) signs in.
 * supabase-js is loaded only when the service asks for sign-in.
 */
import type { AuthError, Session, SupabaseClient } from "@supabase/supabase-js";

import type { AuthClient, Sessao } from "./client";

type GoTrue = SupabaseClient["auth"];

export async function connectSupabase(url: string, anonKey: string): Promise<AuthClient> {
  const { createClient } = await import("@supabase/supabase-js");
  const client = createClient(url, anonKey, {
    auth: { persistSession: true, autoRefreshToken: true, detectSessionInUrl: true, flowType: "implicit" },
  });
  return supabaseAuth(client.auth);
}

/** The page's `AuthClient` over supabase-js's auth client. */
export function supabaseAuth(auth: GoTrue): AuthClient {
  return {
    async session() {
      const { data } = await auth.getSession();
      return data.session ? sessao(data.session) : null;
    },
    onChange(listener) {
      const { data } = auth.onAuthStateChange((_event, session) => listener(session ? sessao(session) : null));
      return () => data.subscription.unsubscribe();
    },
    async signInWithPassword(email, password) {
      return attempt(() => auth.signInWithPassword({ email, password }));
    },
    async sendMagicLink(email) {
      return attempt(() =>
        auth.signInWithOtp({ email, options: { emailRedirectTo: `${window.location.origin}/` } }),
      );
    },
    async landingError() {
      const { error } = await auth.initialize();
      if (!error) return null;
      // The link's error stays in the address otherwise, and would be read again on reload.
      window.history.replaceState(window.history.state, "", window.location.pathname + window.location.search);
      return describeAuthError(error);
    },
    async signOut() {
      const { error } = await auth.signOut();
      if (error) await auth.signOut({ scope: "local" }); // the server could not be told: this device at least
    },
    async forget() {
      await auth.signOut({ scope: "local" });
    },
  };
}

function sessao(session: Session): Sessao {
  return { email: session.user.email ?? "", accessToken: session.access_token };
}

async function attempt(call: () => Promise<{ error: AuthError | null }>): Promise<string | null> {
  try {
    const { error } = await call();
    return error ? describeAuthError(error) : null;
  } catch {
    return UNREACHABLE;
  }
}

const UNREACHABLE = "Não foi possível falar com o serviço de login. Verifique sua conexão e tente novamente.";

const BY_CODE: Record<string, string> = {
  invalid_credentials: "E-mail ou senha incorretos.",
  email_not_confirmed: "Confirme seu e-mail pelo link que enviamos antes de entrar.",
  email_address_invalid: "Informe um e-mail válido.",
  validation_failed: "Informe um e-mail válido.",
  user_banned: "Esta conta está bloqueada.",
  otp_expired: "O link de acesso expirou ou já foi usado. Peça um novo.",
  otp_disabled: "Não foi possível enviar um link de acesso para este e-mail.",
  signup_disabled: "Não há conta com este e-mail.",
  over_request_rate_limit: "Muitas tentativas em pouco tempo. Aguarde um minuto e tente de novo.",
  over_email_send_rate_limit: "Muitos e-mails enviados em pouco tempo. Aguarde um minuto e tente de novo.",
};

/** What to tell a person about a sign-in error of supabase-js. */
export function describeAuthError(error: Pick<AuthError, "name" | "code" | "status"> & { details?: unknown }): string {
  const details = error.details as { code?: unknown } | null | undefined;
  const code = error.code ?? (typeof details?.code === "string" ? details.code : undefined);
  if (code && BY_CODE[code]) return BY_CODE[code];
  if (error.status === 429) return BY_CODE.over_request_rate_limit!;
  if (error.name === "AuthRetryableFetchError") return UNREACHABLE;
  return "Não foi possível entrar. Tente novamente.";
}
