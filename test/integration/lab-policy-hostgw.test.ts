// NetworkPolicy through kubectl in a 2-node lab on the host-gw backend (lab-policy-suite.ts).
import { labPolicySuite } from "./lab-policy-suite.ts";

labPolicySuite("host-gw");
