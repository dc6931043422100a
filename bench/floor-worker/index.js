// The floor for the proxy benchmark: the least a Worker can do to proxy a chat call. It
// forwards method, path, headers and body to UPSTREAM and streams the answer back untouched,
// so whatever llm-edge adds above this is the cost of its own work, not of workerd.
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    return fetch(env.UPSTREAM + url.pathname + url.search, {
      method: request.method,
      headers: request.headers,
      body: request.body,
    });
  },
};
