"""Time-travel simulation: a journey run for one user and a timeline of future events, on a
private time-skipping Temporal server with recording stand-ins for every action.

`simulate` (runner.py) is the entry point; models.py holds what it takes and returns,
stand_ins.py the activities that record instead of acting, timeline.py the readable answer,
inputs.py the checks of user and event files shared by the CLI and the API.

Nothing is imported here: `journey --help` and every other command import this package's CLI
module, which must not pull in the Temporal SDK and the activities.
"""
