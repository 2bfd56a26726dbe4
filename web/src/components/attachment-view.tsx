/**
 * One received (or sent) attachment in the timeline (spec/09-rooms.md RM-72, RM-74): an image
 * shows its thumbnail and opens a viewer with the full image; a voice note plays; any other
 * file is saved by download. Contents are downloaded only when asked, with a progress bar, and
 * a file that fails its checks shows a sentence, never content. Object URLs are revoked.
 */
import { createSignal, onCleanup, Show } from "solid-js";
import type { AttachmentView as Attachment } from "../../../client/app/securecomm-client.js";
import { errorSentence } from "../lib/error-messages.js";
import { blobUrl, formatSize } from "../lib/attachment-files.js";

/** Props of {@link AttachmentItem}. */
export interface AttachmentItemProps {
  attachment: Attachment;
  onDownload: (a: Attachment, onProgress: (done: number, total: number) => void) => Promise<Uint8Array>;
}

/** One attachment: thumbnail and viewer, voice-note player, or download button. */
export function AttachmentItem(props: AttachmentItemProps) {
  const a = () => props.attachment;
  const [progress, setProgress] = createSignal<number>();
  const [error, setError] = createSignal<string>();
  const [fullUrl, setFullUrl] = createSignal<string>();
  const [viewerOpen, setViewerOpen] = createSignal(false);
  const urls: string[] = [];
  const track = (u: string) => (urls.push(u), u);
  onCleanup(() => urls.forEach((u) => URL.revokeObjectURL(u)));
  const thumbUrl = a().thumbnail !== undefined ? track(blobUrl(a().thumbnail!, a().thumbnailType ?? "image/jpeg")) : undefined;

  const fetchFull = async (): Promise<string | undefined> => {
    if (fullUrl()) return fullUrl();
    setError(undefined);
    setProgress(0);
    try {
      const bytes = await props.onDownload(a(), (done, total) => setProgress(total > 0 ? done / total : 0));
      return setFullUrl(track(blobUrl(bytes, a().contentType)));
    } catch (e) {
      setError(errorSentence(e, "download"));
      return undefined;
    } finally {
      setProgress(undefined);
    }
  };
  const save = async () => {
    const url = await fetchFull();
    if (url === undefined) return;
    const link = document.createElement("a");
    link.href = url;
    link.download = a().fileName || "attachment";
    link.rel = "noopener";
    link.click();
  };
  const openViewer = async () => {
    if ((await fetchFull()) !== undefined) setViewerOpen(true);
  };

  return (
    <div class="attachment" data-testid="attachment" data-kind={a().voiceNote ? "voice" : thumbUrl ? "image" : "file"}>
      <Show when={a().voiceNote}>
        <Show
          when={fullUrl()}
          fallback={
            <button type="button" class="attachment-play" data-testid="voice-play" onClick={() => void fetchFull()}>
              ▶ Voice note{a().durationMs > 0 ? ` (${(a().durationMs / 1000).toFixed(1)} s)` : ""}
            </button>
          }
        >
          <audio controls autoplay src={fullUrl()} data-testid="voice-audio" />
        </Show>
      </Show>
      <Show when={!a().voiceNote && thumbUrl}>
        <button type="button" class="attachment-thumb" onClick={() => void openViewer()} aria-label={`Open image ${a().fileName}`}>
          <img src={thumbUrl} alt={a().fileName} data-testid="attachment-thumbnail" width={a().width > 0 ? Math.min(160, a().width) : undefined} />
        </button>
      </Show>
      <Show when={!a().voiceNote && !thumbUrl}>
        <button type="button" class="attachment-file" data-testid="attachment-download" onClick={() => void save()}>
          ⬇ <span dir="auto">{a().fileName || "attachment"}</span> ({formatSize(a().size)})
        </button>
      </Show>
      <Show when={progress() !== undefined}>
        <progress max={1} value={progress()} data-testid="download-progress" aria-label="Download progress" />
      </Show>
      <Show when={error()}>
        <p class="error" role="alert" data-testid="attachment-error">{error()}</p>
      </Show>
      <Show when={viewerOpen() && fullUrl()}>
        <div class="viewer" role="dialog" aria-modal="true" aria-label={a().fileName} data-testid="image-viewer" onClick={() => setViewerOpen(false)}>
          <img src={fullUrl()} alt={a().fileName} data-testid="viewer-image" />
          <div class="viewer-actions">
            <button type="button" onClick={(e) => { e.stopPropagation(); void save(); }}>Save</button>
            <button type="button" onClick={() => setViewerOpen(false)}>Close</button>
          </div>
        </div>
      </Show>
    </div>
  );
}
