import { fireEvent, render, screen } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";

import type { Conta as ContaData } from "../types";
import { Conta, describeQuota } from "./Conta";

const CONTA: ContaData = {
  user_id: "u1",
  email: "ana@example.com",
  plano: { id: "pro", nome: "Pro" },
  buscas_mes: 200,
  usadas: 1,
  restantes: 199,
  renova_em: "2026-12-01",
  excel: true,
};

describe("describeQuota", () => {
  it("says the searches left this month and when they come back, dates as dd/mm/yyyy", () => {
    expect(describeQuota(7, 10, "2027-01-01")).toBe("7 de 10 buscas restantes neste mês · renovam em 01/01/2027");
    expect(describeQuota(1, 10, "2027-01-01")).toBe("1 de 10 busca restante neste mês · renovam em 01/01/2027");
    expect(describeQuota(0, 10, null)).toBe("0 de 10 buscas restantes neste mês");
  });
});

describe("Conta", () => {
  it("shows the e-mail, then the plan and the searches left once the account is read", () => {
    const onLogout = vi.fn();
    const { rerender } = render(<Conta email="ana@example.com" conta={null} error={null} onLogout={onLogout} />);
    expect(screen.getByText("ana@example.com")).toBeInTheDocument();
    expect(screen.queryByTestId("conta-plano")).toBeNull();

    rerender(<Conta email="ana@example.com" conta={CONTA} error={null} onLogout={onLogout} />);
    expect(screen.getByTestId("conta-plano")).toHaveTextContent(/^Pro$/);
    expect(screen.getByTestId("quota")).toHaveAttribute("data-restantes", "199");
    fireEvent.click(screen.getByTestId("logout"));
    expect(onLogout).toHaveBeenCalledOnce();
  });

  it("marks a month with no search left, and a plan with no limit", () => {
    const { rerender } = render(
      <Conta email="a@b.c" conta={{ ...CONTA, restantes: 0, usadas: 200 }} error={null} onLogout={vi.fn()} />,
    );
    expect(screen.getByTestId("quota")).toHaveAttribute("data-restantes", "0");
    expect(screen.getByTestId("quota")).toHaveClass("esgotada");
    rerender(
      <Conta email="a@b.c" conta={{ ...CONTA, buscas_mes: null, restantes: null }} error={null} onLogout={vi.fn()} />,
    );
    expect(screen.getByTestId("quota")).toHaveTextContent("Buscas ilimitadas");
    expect(screen.getByTestId("quota")).not.toHaveAttribute("data-restantes");
  });

  it("says so when the account could not be read", () => {
    const error = "Não foi possível carregar os dados da sua conta.";
    render(<Conta email="a@b.c" conta={null} error={error} onLogout={vi.fn()} />);
    expect(screen.getByText("Não foi possível carregar os dados da sua conta.")).toBeInTheDocument();
  });
});
