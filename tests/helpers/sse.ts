export interface SseEvent {
  id?: string;
  event?: string;
  data: string;
}

/** Reads Server-Sent Events from a live response until `count` events arrived. */
export async function readEvents(res: Response, count: number): Promise<SseEvent[]> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  const events: SseEvent[] = [];
  let buffer = '';
  while (events.length < count) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut = buffer.indexOf('\n\n');
    while (cut >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const fields = Object.fromEntries(
        block
          .split('\n')
          .filter((l) => !l.startsWith(':') && l.includes(': '))
          .map((l) => [l.slice(0, l.indexOf(': ')), l.slice(l.indexOf(': ') + 2)]),
      );
      const { id, event, data } = fields;
      if (data !== undefined)
        events.push({ ...(id === undefined ? {} : { id }), ...(event === undefined ? {} : { event }), data });
      cut = buffer.indexOf('\n\n');
    }
  }
  await reader.cancel();
  return events;
}
