/**
 * weft's container image name, shared by the image build (scripts/image.ts),
 * the manifest (deploy/weft.yaml names the same reference) and the lab,
 * whose kubelet runs this checkout's build for it instead of pulling.
 * `localhost/` is where Podman and CRI-O keep images loaded from an archive.
 */
import { VERSION } from "./version.ts";

/** The repository part of the reference. */
export const IMAGE_NAME = "localhost/weft";

/** `localhost/weft:<version>`, by default this package's version. */
export function imageRef(version: string = VERSION): string {
  return `${IMAGE_NAME}:${version}`;
}
