import { type ReactNode, useMemo } from "react";

import { openApi } from "./api";
import { type AuthClient, signedApi } from "./auth/client";
import { connectSupabase } from "./auth/supabase";
import { type Connect, useStartup } from "./auth/useStartup";
import { useSession } from "./auth/useSession";
import { Conta } from "./components/Conta";
import { Login } from "./components/Login";
import { SearchArea } from "./components/SearchArea";
import { useConta } from "./hooks/useConta";

interface Props {
  /** How to reach the sign-in service the server names (Supabase Auth). */
  connect?: Connect;
}

/** The page: as the service says (`GET /v1/config`), open to all, or for signed-in people. */
export function App({ connect = connectSupabase }: Props) {
  const startup = useStartup(connect);
  if (startup.status === "loading") {
    return (
      <Layout>
        <p className="hint">Carregando…</p>
      </Layout>
    );
  }
  if (startup.status === "failed") {
    return (
      <Layout>
        <p className="notice error" role="alert" data-testid="startup-error">
          {startup.message}
        </p>
      </Layout>
    );
  }
  if (startup.auth === null) {
    return (
      <Layout>
        <SearchArea api={openApi} />
      </Layout>
    );
  }
  return <WithSignIn auth={startup.auth} />;
}

function WithSignIn({ auth }: { auth: AuthClient }) {
  const { state, expire, signOut } = useSession(auth);
  if (state.status === "signed-in") {
    return <SignedInPage auth={auth} email={state.email} onExpired={expire} onLogout={signOut} />;
  }
  return (
    <Layout>
      {state.status === "checking" ? (
        <p className="hint">Carregando…</p>
      ) : (
        <Login auth={auth} notice={state.notice} />
      )}
    </Layout>
  );
}

interface SignedInProps {
  auth: AuthClient;
  email: string;
  onExpired: () => void;
  onLogout: () => void;
}

function SignedInPage({ auth, email, onExpired, onLogout }: SignedInProps) {
  const api = useMemo(() => signedApi(auth, onExpired), [auth, onExpired]);
  const { conta, error, reload } = useConta(api);
  const signedIn = useMemo(() => ({ plano: conta?.plano ?? null, onAnswered: reload }), [conta?.plano, reload]);
  return (
    <Layout conta={<Conta email={email} conta={conta} error={error} onLogout={onLogout} />}>
      <SearchArea api={api} signedIn={signedIn} />
    </Layout>
  );
}

function Layout({ conta, children }: { conta?: ReactNode; children: ReactNode }) {
  return (
    <div className="page">
      <header className="site-header">
        <div>
          <h1>SmartLic</h1>
          <p>Licitações públicas do PNCP que combinam com o seu setor.</p>
        </div>
        {conta}
      </header>
      <main>{children}</main>
    </div>
  );
}
