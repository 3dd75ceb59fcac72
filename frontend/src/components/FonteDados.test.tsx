import { act, render, screen } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { FONTE_REFRESH_MS, FonteDados } from "./FonteDados";

const ATUALIZADO = "2026-12-01T11:02:00+00:00";
const AT = Date.parse(ATUALIZADO);
const MINUTE = 60_000;

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(AT + 4 * MINUTE);
});

afterEach(() => {
  vi.useRealTimers();
});

describe("FonteDados (where the data came from)", () => {
  it("names each source, with the age in words and the Brasília time on hover", () => {
    const { rerender } = render(<FonteDados fonte="indice" atualizadoEm={ATUALIZADO} />);
    const line = screen.getByTestId("fonte");
    expect(line).toHaveAttribute("data-fonte", "indice");
    expect(line).toHaveTextContent("Dados do índice local do PNCP · atualizado há 4 min");
    expect(line).toHaveAttribute("title", "Obtidos do PNCP em 01/12/2026 08:02 (horário de Brasília)");
    expect(line.querySelector("time")).toHaveAttribute("datetime", ATUALIZADO);

    vi.setSystemTime(AT + 2 * 60 * MINUTE + 5 * MINUTE);
    rerender(<FonteDados fonte="misto" atualizadoEm={ATUALIZADO} />);
    expect(screen.getByTestId("fonte")).toHaveAttribute("data-fonte", "misto");
    expect(screen.getByTestId("fonte")).toHaveTextContent("Dados do índice local e do PNCP · atualizado há 2 h");

    vi.setSystemTime(AT + 20_000);
    rerender(<FonteDados fonte="pncp" atualizadoEm={ATUALIZADO} />);
    expect(screen.getByTestId("fonte")).toHaveAttribute("data-fonte", "pncp");
    expect(screen.getByTestId("fonte")).toHaveTextContent(/^Dados lidos agora do PNCP$/);
  });

  it("keeps the age current while the page stays open, re-rendering only itself", () => {
    const siblingRenders = vi.fn();
    function Sibling() {
      siblingRenders();
      return <p>tabela</p>;
    }
    const { unmount } = render(
      <>
        <FonteDados fonte="indice" atualizadoEm={ATUALIZADO} />
        <Sibling />
      </>,
    );
    const line = screen.getByTestId("fonte");
    expect(line).toHaveTextContent("há 4 min");
    act(() => vi.advanceTimersByTime(FONTE_REFRESH_MS));
    expect(line).toHaveTextContent("há 4 min");
    act(() => vi.advanceTimersByTime(FONTE_REFRESH_MS));
    expect(line).toHaveTextContent("há 5 min");
    act(() => vi.advanceTimersByTime(56 * MINUTE));
    expect(line).toHaveTextContent("há 1 h");
    expect(siblingRenders).toHaveBeenCalledTimes(1);

    unmount();
    expect(vi.getTimerCount()).toBe(0);
  });

  it("a live read says how long ago once it is no longer 'agora'", () => {
    vi.setSystemTime(AT);
    render(<FonteDados fonte="pncp" atualizadoEm={ATUALIZADO} />);
    expect(screen.getByTestId("fonte")).toHaveTextContent(/^Dados lidos agora do PNCP$/);
    act(() => vi.advanceTimersByTime(3 * MINUTE));
    expect(screen.getByTestId("fonte")).toHaveTextContent(/^Dados lidos do PNCP há 3 min$/);
  });

  it("leaves the age out when atualizado_em is missing or invalid", () => {
    const { rerender } = render(<FonteDados fonte="indice" atualizadoEm={null} />);
    const line = screen.getByTestId("fonte");
    expect(line).toHaveTextContent(/^Dados do índice local do PNCP$/);
    expect(line).not.toHaveAttribute("title");
    expect(vi.getTimerCount()).toBe(0);

    rerender(<FonteDados fonte="misto" atualizadoEm="2026-12-01T11:02:00" />);
    expect(screen.getByTestId("fonte")).toHaveTextContent(/^Dados do índice local e do PNCP$/);
    expect(screen.getByTestId("fonte")).not.toHaveAttribute("title");
  });

  it("shows nothing without a known fonte (older answers)", () => {
    const { container, rerender } = render(<FonteDados fonte={undefined} atualizadoEm={ATUALIZADO} />);
    expect(container).toBeEmptyDOMElement();
    rerender(<FonteDados fonte={null} atualizadoEm={ATUALIZADO} />);
    expect(container).toBeEmptyDOMElement();
    // A value this page does not know yet: nothing rather than a wrong label.
    rerender(<FonteDados fonte={"cache" as never} atualizadoEm={ATUALIZADO} />);
    expect(container).toBeEmptyDOMElement();
  });
});
