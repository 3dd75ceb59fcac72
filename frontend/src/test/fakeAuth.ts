/** A sign-in service for the page's tests: one known person, a token that changes on refresh. */
import type { AuthClient, Sessao } from "../auth/client";

export const EMAIL = "ana@example.com";
export const PASSWORD = "segredo123";

export class FakeAuth implements AuthClient {
  current: Sessao | null = null;
  /** What each method was asked, in order: "signIn ana@...", "magicLink ...", "signOut", "forget". */
  readonly log: string[] = [];
  landing: string | null = null;
  private listeners = new Set<(sessao: Sessao | null) => void>();
  private tokens = 0;

  /** Already signed in when the page opens (a session kept from before). */
  static signedIn(): FakeAuth {
    const auth = new FakeAuth();
    auth.current = auth.newSession();
    return auth;
  }

  async session() {
    return this.current;
  }

  onChange(listener: (sessao: Sessao | null) => void) {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  async signInWithPassword(email: string, password: string) {
    this.log.push(`signIn ${email}`);
    if (email !== EMAIL || password !== PASSWORD) return "E-mail ou senha incorretos.";
    this.set(this.newSession());
    return null;
  }

  async sendMagicLink(email: string) {
    this.log.push(`magicLink ${email}`);
    return null;
  }

  async landingError() {
    return this.landing;
  }

  async signOut() {
    this.log.push("signOut");
    this.set(null);
  }

  async forget() {
    this.log.push("forget");
    this.set(null);
  }

  /** What supabase-js does before the token expires. */
  refresh(): void {
    this.set(this.newSession());
  }

  private newSession(): Sessao {
    this.tokens += 1;
    return { email: EMAIL, accessToken: `token-${this.tokens}` };
  }

  private set(sessao: Sessao | null): void {
    this.current = sessao;
    for (const listener of this.listeners) listener(sessao);
  }
}
