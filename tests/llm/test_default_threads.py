"""How many llama.cpp threads a model gets when the recipe does not say: the cores idle now."""
from __future__ import annotations

import os

import pytest

from synthloom.llm import llama_model


@pytest.fixture
def machine(monkeypatch):
    monkeypatch.setattr(llama_model, "_claimed", 0)

    def set_(cores: int, idle: float, omp: str | None = None) -> int:
        monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: set(range(cores)), raising=False)
        monkeypatch.setattr(llama_model, "_idle_cores", lambda: idle)
        if omp is None:
            monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
        else:
            monkeypatch.setenv("OMP_NUM_THREADS", omp)
        n = llama_model.default_threads()
        llama_model.release_threads(n)
        return n
    return set_


def test_an_idle_machine_gets_every_core_a_busy_one_only_what_is_free(machine):
    assert machine(2, 1.95) == 2  # make demo on a quiet 2-core machine: both cores
    assert machine(2, 1.1) == 1  # one core busy with another job
    assert machine(2, 0.0) == 1  # every core busy: never below one thread
    assert machine(16, 15.0) == 8  # capped at 8: a 270M model gains nothing beyond
    assert machine(16, 4.4) == 4
    assert machine(4, 40.0) == 4  # /proc/stat of a host bigger than this process's CPU set


def test_omp_num_threads_caps_the_choice(machine):
    assert machine(2, 2.0, omp="1") == 1
    assert machine(8, 8.0, omp="4") == 4
    assert machine(2, 2.0, omp="") == 2


def test_a_second_model_in_the_process_gets_what_the_first_left(monkeypatch):
    # a judge loaded beside the generator: both decode at once, so they must not both take every core
    monkeypatch.setattr(llama_model, "_claimed", 0)
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1}, raising=False)
    monkeypatch.setattr(llama_model, "_idle_cores", lambda: 2.0)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    first = llama_model.default_threads()
    second = llama_model.default_threads()
    assert (first, second) == (2, 1)
    llama_model.release_threads(first)
    assert llama_model.default_threads() == 1  # the second still holds its thread: 2 idle - 1 held
    llama_model.release_threads(second)


def test_idle_cores_reads_this_machine():
    idle = llama_model._idle_cores(window_s=0.05)
    assert 0.0 <= idle <= (os.cpu_count() or 1) + 0.01
