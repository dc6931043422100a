// A reference for the proxy benchmark's cost breakdown, not a floor: the passthrough of
// index.js, except that every chunk of the answer passes through JavaScript (read, then
// enqueued), as it must in any Worker that decodes or rewrites a stream.
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const upstream = await fetch(env.UPSTREAM + url.pathname + url.search, {
      method: request.method,
      headers: request.headers,
      body: request.body,
    });
    const reader = upstream.body.getReader();
    const body = new ReadableStream({
      async pull(controller) {
        const { done, value } = await reader.read();
        if (done) controller.close();
        else controller.enqueue(value);
      },
    });
    return new Response(body, { status: upstream.status, headers: upstream.headers });
  },
};
