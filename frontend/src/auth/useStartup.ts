/** How the page starts: `GET /v1/config` says whether people sign in, and with which project. */
import { useEffect, useState } from "react";

import { readJson, routes } from "../api";
import type { Configuracao } from "../types";
import type { AuthClient } from "./client";

export type Connect = (url: string, anonKey: string) => Promise<AuthClient>;

export type Startup =
  | { status: "loading" }
  | { status: "failed"; message: string }
  /** `auth` is null when the service has sign-in off. */
  | { status: "ready"; auth: AuthClient | null };

const FAILED = "Não foi possível carregar o SmartLic. Recarregue a página para tentar de novo.";

export function useStartup(connect: Connect): Startup {
  const [startup, setStartup] = useState<Startup>({ status: "loading" });

  useEffect(() => {
    let active = true;
    readConfig()
      // Only the effect still mounted connects: one client per page.
      .then((config) => (active ? authFor(config, connect) : null))
      .then(
        (auth) => active && setStartup({ status: "ready", auth }),
        () => active && setStartup({ status: "failed", message: FAILED }),
      );
    return () => {
      active = false;
    };
  }, [connect]);

  return startup;
}

async function readConfig(): Promise<Configuracao> {
  const response = await fetch(routes.config, { headers: { Accept: "application/json" } });
  const config = (await readJson(response)) as Configuracao | null;
  if (!response.ok || config === null) throw new Error(`GET ${routes.config}: ${response.status}`);
  return config;
}

async function authFor(config: Configuracao, connect: Connect): Promise<AuthClient | null> {
  if (config.auth === "off") return null;
  if (!config.supabase_url || !config.supabase_anon_key) throw new Error("sign-in without a project");
  return connect(config.supabase_url, config.supabase_anon_key);
}
