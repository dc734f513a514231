from bulkyard.jobs.models import Job


def root_job_id(job_id: str) -> str:
    """The first job of a chain of "retry failed items" jobs."""
    current = job_id
    for _ in range(1000):  # a chain, never a cycle; bounded all the same
        parent = Job.objects.filter(pk=current).values_list("retry_of_id", flat=True).first()
        if parent is None:
            return str(current)
        current = str(parent)
    return str(current)
