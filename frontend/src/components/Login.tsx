import { type FormEvent, useState } from "react";

import type { AuthClient } from "../auth/client";

interface Props {
  auth: AuthClient;
  /** Why the person is asked to sign in, if there is a reason to say (the session expired). */
  notice: string | null;
}

type Pending = "password" | "link" | null;

/** Sign-in with e-mail and password, or by a link sent to the e-mail. */
export function Login({ auth, notice }: Props) {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [pending, setPending] = useState<Pending>(null);
  const [error, setError] = useState<string | null>(null);
  const [sent, setSent] = useState<string | null>(null);

  async function run(kind: Exclude<Pending, null>, call: () => Promise<string | null>, done?: string) {
    setError(null);
    setSent(null);
    setPending(kind);
    const failure = await call();
    setPending(null);
    if (failure) setError(failure);
    else if (done) setSent(done);
  }

  const signIn = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const address = email.trim();
    if (!address || !password) {
      setError("Informe seu e-mail e sua senha.");
      return;
    }
    void run("password", () => auth.signInWithPassword(address, password));
  };

  const sendLink = () => {
    const address = email.trim();
    if (!address) {
      setError("Informe seu e-mail para receber o link de acesso.");
      return;
    }
    void run("link", () => auth.sendMagicLink(address), `Enviamos um link de acesso para ${address}.`);
  };

  return (
    <form className="login-form" data-testid="login-form" onSubmit={signIn} noValidate>
      <h2>Entrar</h2>
      {notice && (
        <p className="notice warning" role="status" data-testid="login-notice">
          {notice}
        </p>
      )}
      <div className="field">
        <label htmlFor="login-email">E-mail</label>
        <input
          id="login-email"
          type="email"
          autoComplete="email"
          data-testid="login-email"
          value={email}
          onChange={(e) => setEmail(e.target.value)}
        />
      </div>
      <div className="field">
        <label htmlFor="login-password">Senha</label>
        <input
          id="login-password"
          type="password"
          autoComplete="current-password"
          data-testid="login-password"
          value={password}
          onChange={(e) => setPassword(e.target.value)}
        />
      </div>
      <div aria-live="polite">
        {error && (
          <p className="notice error" role="alert" data-testid="login-error">
            {error}
          </p>
        )}
        {sent && (
          <p className="notice" data-testid="login-link-sent">
            {sent}
          </p>
        )}
      </div>
      <div className="login-actions">
        <button type="submit" className="primary" data-testid="login-submit" disabled={pending !== null}>
          {pending === "password" ? "Entrando…" : "Entrar"}
        </button>
        <button type="button" data-testid="login-magic-link" onClick={sendLink} disabled={pending !== null}>
          {pending === "link" ? "Enviando…" : "Receber link de acesso por e-mail"}
        </button>
      </div>
    </form>
  );
}
