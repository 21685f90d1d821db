"""The tag a tag manager adds to every page: rum.js before </head>, for the recorded deployment only."""

import os

TAG = os.environ.get("REALAPPS_TAG", "").encode()


class TagMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if TAG and response.get("Content-Type", "").startswith("text/html") and not response.streaming:
            content = response.content
            if b"</head>" in content:
                response.content = content.replace(b"</head>", TAG + b"</head>", 1)
                response["Content-Length"] = str(len(response.content))
        return response
