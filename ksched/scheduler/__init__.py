"""The scheduler: profiles, queue and snapshot driven one pod at a time."""

from ksched.scheduler.scheduler import Metrics, Scheduler, ScheduleResult, TieBreak

__all__ = ["Metrics", "ScheduleResult", "Scheduler", "TieBreak"]
