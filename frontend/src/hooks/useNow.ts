import { useEffect, useState } from "react";

/**
 * The browser's clock (ms), read at each render; the component that asks re-renders every
 * `intervalMs` while `enabled`, and when the tab becomes visible again (hidden tabs throttle
 * timers), so a relative time it shows stays current without re-rendering its parents.
 */
export function useNow(intervalMs: number, enabled = true): number {
  const [, setTick] = useState(0);
  useEffect(() => {
    if (!enabled) return;
    const tick = () => setTick((n) => n + 1);
    const onVisible = () => {
      if (document.visibilityState === "visible") tick();
    };
    const timer = setInterval(tick, intervalMs);
    document.addEventListener("visibilitychange", onVisible);
    return () => {
      clearInterval(timer);
      document.removeEventListener("visibilitychange", onVisible);
    };
  }, [intervalMs, enabled]);
  return Date.now();
}
