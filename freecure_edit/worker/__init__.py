"""The worker: a session that keeps one FreeCure loaded and answers JSON-lines requests (protocol 1) over
any pair of streams, a thin transport over freecure_edit.service. `freecure-edit worker` runs it on
stdin and stdout; a program can run it on its own pipes:

    session = start_session(config_defaults(), set(), draft=False, models={"model": "path"},
                            jpeg_quality=95, max_pixels=None)
    run_worker(session, requests_binary_stream, MessageWriter(replies_text_stream))

- protocol.py: the wire format (torch-free: a client can read it to learn the format);
- request.py, options.py: a cure request and its "options", checked before anything loads;
- settings.py: the start-up defaults and a request's settings over them;
- cure.py: one cure request, start to finish; session.py: the session over the service.

A front end: may import service/, model_choice.py, overrides.py, failures.py, the method and the
lower layers.
"""
