def test_a_posted_request_starts_open(help_request):
    assert help_request.status == "open"
    assert help_request.status_changes.get().to_status == "open"
