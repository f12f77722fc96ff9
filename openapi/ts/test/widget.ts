import { createSkygateClient, streamEvents } from "@skygate/client";

const baseUrl = "http://127.0.0.1:8080";
const skygate = createSkygateClient({ baseUrl });
const list = document.querySelector<HTMLUListElement>("#clusters")!;
async function render(): Promise<void> {
  const { data, error } = await skygate.GET("/clusters");
  const rows = error ? Object.values(error.errors).flat() : data.result.map((c) => `${c.name}: ${c.status} ${c.ip ?? ""}`);
  list.replaceChildren(...rows.map((text) => Object.assign(document.createElement("li"), { textContent: text })));
}
void streamEvents({ baseUrl, path: "/events", reconnect: true, signal: new AbortController().signal,
  onOpen: () => void render(), onEvent: (event) => event.event === "status" && void render() });
