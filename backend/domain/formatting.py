"""Money and dates as Brazilians read them."""

from __future__ import annotations

from datetime import date, datetime


def formatar_moeda(valor: float) -> str:
    """R$ 1.234.567,89"""
    texto = f"{abs(valor):,.2f}".replace(",", "_").replace(".", ",").replace("_", ".")
    return f"-R$ {texto}" if valor < 0 else f"R$ {texto}"


def formatar_data(momento: datetime) -> str:
    """dd/mm/aaaa HH:MM"""
    return momento.strftime("%d/%m/%Y %H:%M")


def formatar_dia(dia: date) -> str:
    """dd/mm/aaaa"""
    return dia.strftime("%d/%m/%Y")
