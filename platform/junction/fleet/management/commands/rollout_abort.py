"""manage.py rollout_abort ID --region CODE [--reason TEXT] [--json]."""

from junction.fleet.commands import RolloutCommand
from junction.fleet.rollouts import rollout_abort


class Command(RolloutCommand):
    help = "Abort a rollout: every device of it goes back to the release it ran before."
    service = staticmethod(rollout_abort)
    takes_reason = True
