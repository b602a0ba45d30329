"""The example tool set: a weather lookup with canned data, a unit converter, and an order database in
SQLite created from orders.sql. synthloom reads each function's signature and docstring as its tool schema
and runs the calls in a separate process."""
from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Literal

_WEATHER = {
    "lisbon": {"condition": "sunny", "temp_c": 21, "humidity": 55},
    "osaka": {"condition": "light rain", "temp_c": 17, "humidity": 80},
    "lagos": {"condition": "thunderstorms", "temp_c": 29, "humidity": 88},
    "berlin": {"condition": "cloudy", "temp_c": 9, "humidity": 70},
    "rome": {"condition": "clear", "temp_c": 19, "humidity": 60},
    "paris": {"condition": "overcast", "temp_c": 12, "humidity": 75},
    "tokyo": {"condition": "sunny", "temp_c": 15, "humidity": 50},
    "new york": {"condition": "windy", "temp_c": 8, "humidity": 45},
}

_FACTORS = {  # to the base unit of each kind
    "km": 1000.0, "m": 1.0, "mi": 1609.344, "ft": 0.3048,
    "kg": 1.0, "lb": 0.45359237, "g": 0.001,
    "l": 1.0, "gal": 3.785411784,
}
_KIND = {"km": "length", "m": "length", "mi": "length", "ft": "length",
         "kg": "mass", "lb": "mass", "g": "mass", "l": "volume", "gal": "volume"}

_DB: sqlite3.Connection | None = None


def _db() -> sqlite3.Connection:
    global _DB
    if _DB is None:
        _DB = sqlite3.connect(":memory:")
        _DB.row_factory = sqlite3.Row
        _DB.executescript((Path(__file__).parent / "orders.sql").read_text(encoding="utf-8"))
    return _DB


def get_weather(city: str, unit: Literal["celsius", "fahrenheit"] = "celsius") -> dict:
    """Current weather in a city.

    Args:
        city: the city's name, e.g. Lisbon
        unit: temperature unit
    """
    w = _WEATHER.get(city.strip().lower())
    if w is None:
        raise ValueError(f"no weather data for {city!r}")
    temp = w["temp_c"] if unit == "celsius" else round(w["temp_c"] * 9 / 5 + 32, 1)
    return {"city": city.strip().title(), "condition": w["condition"], "temperature": temp, "unit": unit,
            "humidity": w["humidity"]}


def convert_units(value: float, from_unit: Literal["km", "m", "mi", "ft", "kg", "lb", "g", "l", "gal"],
                  to_unit: Literal["km", "m", "mi", "ft", "kg", "lb", "g", "l", "gal"]) -> dict:
    """Convert a length, mass or volume from one unit to another.

    Args:
        value: the amount to convert, e.g. 5
        from_unit: the unit of the amount
        to_unit: the unit wanted
    """
    if _KIND[from_unit] != _KIND[to_unit]:
        raise ValueError(f"cannot convert {_KIND[from_unit]} ({from_unit}) to {_KIND[to_unit]} ({to_unit})")
    return {"value": value, "from_unit": from_unit, "to_unit": to_unit,
            "result": round(value * _FACTORS[from_unit] / _FACTORS[to_unit], 3)}


def get_order(order_id: str) -> dict:
    """Look up one order by its id.

    Args:
        order_id: the order's id, e.g. A-1003
    """
    row = _db().execute("SELECT * FROM orders WHERE order_id = ?", (order_id.strip().upper(),)).fetchone()
    if row is None:
        raise LookupError(f"no order {order_id!r}")
    return dict(row)


def list_orders(customer: str) -> list:
    """All orders of a customer: id, item and status.

    Args:
        customer: the customer's full name, e.g. Kenji Sato
    """
    rows = _db().execute("SELECT order_id, item, status FROM orders WHERE lower(customer) = lower(?)",
                         (customer.strip(),)).fetchall()
    return [dict(r) for r in rows]
