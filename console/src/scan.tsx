import { useEffect, useRef, useState } from 'preact/hooks';
import { t } from './i18n.ts';

/** The browser's own detector where it has one (Chrome on Android, macOS): typed here, lib.dom lacks it. */
interface Detector {
  detect(source: HTMLVideoElement): Promise<Array<{ rawValue: string }>>;
}
type DetectorClass = new (o: { formats: string[] }) => Detector;

/** The device id a label's QR code names: its text, a console link to the device, or a provisioning bundle. */
export function deviceIdOfLabel(text: string): string {
  const s = text.trim();
  const link = /#\/(?:check|device)\/([^/?#]+)/.exec(s);
  if (link) return decodeURIComponent(link[1]!);
  if (s.startsWith('{')) {
    try {
      const parsed = JSON.parse(s) as { device?: unknown };
      if (typeof parsed.device === 'string') return parsed.device;
    } catch {
      // Not JSON after all: the text itself is the id.
    }
  }
  return s;
}

const SCAN_EVERY_MS = 200;

/** One way to read a frame: the native BarcodeDetector, else jsQR (loaded only when a camera is opened). */
async function frameReader(video: HTMLVideoElement): Promise<() => Promise<string | undefined>> {
  const Native = (globalThis as unknown as { BarcodeDetector?: DetectorClass }).BarcodeDetector;
  if (Native) {
    const detector = new Native({ formats: ['qr_code'] });
    return async () => (await detector.detect(video))[0]?.rawValue;
  }
  const { default: jsQR } = await import('jsqr');
  const canvas = document.createElement('canvas');
  const ctx = canvas.getContext('2d', { willReadFrequently: true })!;
  return async () => {
    if (video.videoWidth === 0) return undefined;
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    ctx.drawImage(video, 0, 0);
    const image = ctx.getImageData(0, 0, canvas.width, canvas.height);
    return jsQR(image.data, image.width, image.height, { inversionAttempts: 'dontInvert' })?.data;
  };
}

/** Finds a device by its label: the phone's back camera until a QR code is read, then `onFound(device id)`. */
export function LabelScanner({ onFound }: { onFound: (id: string) => void }) {
  const [open, setOpen] = useState(false);
  const [error, setError] = useState('');
  const video = useRef<HTMLVideoElement>(null);
  useEffect(() => {
    if (!open) return;
    let stream: MediaStream | undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let gone = false;
    (async () => {
      try {
        stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' }, audio: false });
        if (gone || !video.current) return;
        video.current.srcObject = stream;
        await video.current.play();
        const read = await frameReader(video.current);
        const tick = async () => {
          if (gone) return;
          const text = await read().catch(() => undefined);
          if (text) {
            setOpen(false);
            onFound(deviceIdOfLabel(text));
            return;
          }
          timer = setTimeout(tick, SCAN_EVERY_MS);
        };
        tick();
      } catch (err) {
        if (!gone) setError(`${t('cameraFailed')}: ${(err as Error).message}`);
      }
    })();
    return () => {
      gone = true;
      clearTimeout(timer);
      for (const track of stream?.getTracks() ?? []) track.stop();
    };
  }, [open]);
  return (
    <div class="scanner">
      <button
        type="button"
        onClick={() => {
          setError('');
          setOpen(!open);
        }}
        aria-pressed={open}
      >
        {open ? t('stopScan') : t('scanLabel')}
      </button>
      {open && (
        <video ref={video} class="camera" muted playsInline aria-label={t('scanLabel')}>
          <track kind="captions" />
        </video>
      )}
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}
