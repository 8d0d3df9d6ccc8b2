"""Pure formatting helpers shared by the CLI, the benchmarks and the dashboard."""

from __future__ import annotations


def fmt_released(n: int) -> str:
    """RSS given back: '12.0 MiB', 'none', or 'grew 3.0 MiB' (never a bare 0 B or a minus)."""
    if n > 0:
        return fmt_bytes(n)
    return "none" if n == 0 else f"grew {fmt_bytes(-n)}"


def fmt_bytes(n: int | float | None) -> str:
    """1536 -> '1.5 KiB'; None -> '—' (not measured, which is not zero)."""
    if n is None:
        return "—"
    sign = "-" if n < 0 else ""
    value = float(abs(n))
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{sign}{value:.0f} {unit}" if unit == "B" else f"{sign}{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def fmt_percent(
    fraction: float | None, digits: int | None = 1, *, sign: bool = False, unit: str = "%"
) -> str:
    """0.123 -> '12.3%'; None -> '—'. The one percent formatter.

    `digits=None` keeps two figures: one decimal below 10%, none from there ('4.2%', '14%').
    `sign` writes '+' on a rise; `unit=""` leaves the '%' off (an interval's bounds, '[+1.2..+3.4]',
    written once). A change that rounds to zero is '0', never '-0'.
    """
    if fraction is None:
        return "—"
    value = fraction * 100
    if digits is None:
        digits = 1 if abs(value) < 9.95 else 0
    value = round(value, digits) + 0.0  # + 0.0 turns -0.0 into 0.0
    return f"{value:{'+' if sign else ''}.{digits}f}{unit}"


def fmt_ms(ms: float | None) -> str:
    if ms is None:
        return "—"
    if ms >= 1000:
        return f"{ms / 1000:.2f} s"
    if ms >= 10:
        return f"{ms:.0f} ms"
    if ms >= 0.1:
        return f"{ms:.2f} ms"
    us = ms * 1000
    if us >= 10:
        return f"{us:.0f} µs"
    if us >= 1:
        return f"{us:.2f} µs"
    return f"{us * 1000:.0f} ns"


def fmt_seconds(s: float) -> str:
    return fmt_ms(s * 1000)
