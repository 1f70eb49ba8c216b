"""manage.py rollout_pause ID --region CODE [--reason TEXT] [--json]."""

from junction.fleet.commands import RolloutCommand
from junction.fleet.rollouts import rollout_pause


class Command(RolloutCommand):
    help = "Pause a running rollout: no further device is offered its release."
    service = staticmethod(rollout_pause)
    takes_reason = True
