// erf(x) in float64: the fdlibm transcription of src/backend/reference/erf.ts (see its notice), for the
// float32 kernels, which compute transcendental functions in float64 and round once, as the reference does.

const erx: f64 = 8.45062911510467529297e-1;
const efx8: f64 = 1.02703333676410069053;
const pp0: f64 = 1.28379167095512558561e-1;
const pp1: f64 = -3.2504210724700149937e-1;
const pp2: f64 = -2.84817495755985104766e-2;
const pp3: f64 = -5.77027029648944159157e-3;
const pp4: f64 = -2.37630166566501626084e-5;
const qq1: f64 = 3.97917223959155352819e-1;
const qq2: f64 = 6.50222499887672944485e-2;
const qq3: f64 = 5.08130628187576562776e-3;
const qq4: f64 = 1.32494738004321644526e-4;
const qq5: f64 = -3.9602282787753681232e-6;
// erf in [0.84375, 1.25]
const pa0: f64 = -2.36211856075265944077e-3;
const pa1: f64 = 4.14856118683748331666e-1;
const pa2: f64 = -3.72207876035701323847e-1;
const pa3: f64 = 3.18346619901161753674e-1;
const pa4: f64 = -1.10894694282396677476e-1;
const pa5: f64 = 3.54783043256182359371e-2;
const pa6: f64 = -2.166375594868790843e-3;
const qa1: f64 = 1.06420880400844228286e-1;
const qa2: f64 = 5.40397917702171048937e-1;
const qa3: f64 = 7.18286544141962662868e-2;
const qa4: f64 = 1.26171219808761642112e-1;
const qa5: f64 = 1.36370839120290507362e-2;
const qa6: f64 = 1.1984499846799107417e-2;
// erfc in [1.25, 1/0.35]
const ra0: f64 = -9.86494403484714822705e-3;
const ra1: f64 = -6.93858572707181764372e-1;
const ra2: f64 = -1.05586262253232909814e1;
const ra3: f64 = -6.23753324503260060396e1;
const ra4: f64 = -1.62396669462573470355e2;
const ra5: f64 = -1.84605092906711035994e2;
const ra6: f64 = -8.12874355063065934246e1;
const ra7: f64 = -9.81432934416914548592;
const sa1: f64 = 1.96512716674392571292e1;
const sa2: f64 = 1.376577541435190426e2;
const sa3: f64 = 4.34565877475229228821e2;
const sa4: f64 = 6.45387271733267880336e2;
const sa5: f64 = 4.29008140027567833386e2;
const sa6: f64 = 1.08635005541779435134e2;
const sa7: f64 = 6.57024977031928170135;
const sa8: f64 = -6.04244152148580987438e-2;
// erfc in [1/0.35, 6]
const rb0: f64 = -9.86494292470009928597e-3;
const rb1: f64 = -7.99283237680523006574e-1;
const rb2: f64 = -1.77579549177547519889e1;
const rb3: f64 = -1.60636384855821916062e2;
const rb4: f64 = -6.37566443368389627722e2;
const rb5: f64 = -1.02509513161107724954e3;
const rb6: f64 = -4.83519191608651397019e2;
const sb1: f64 = 3.03380607434824582924e1;
const sb2: f64 = 3.25792512996573918826e2;
const sb3: f64 = 1.53672958608443695994e3;
const sb4: f64 = 3.19985821950859553908e3;
const sb5: f64 = 2.55305040643316442583e3;
const sb6: f64 = 4.74528541206955367215e2;
const sb7: f64 = -2.24409524465858183362e1;

export function erf64(x: f64): f64 {
  if (isNaN(x)) return NaN;
  if (x == Infinity) return 1;
  if (x == -Infinity) return -1;
  let sign: f64 = x < 0 ? -1 : 1;
  let ax = Math.abs(x);
  if (ax < 0.84375) {
    if (ax < 3.725290298461914e-9) return 0.125 * (8 * x + efx8 * x);
    let z = x * x;
    let r = pp0 + z * (pp1 + z * (pp2 + z * (pp3 + z * pp4)));
    let s = 1 + z * (qq1 + z * (qq2 + z * (qq3 + z * (qq4 + z * qq5))));
    return x + x * (r / s);
  }
  if (ax < 1.25) {
    let s = ax - 1;
    let p = pa0 + s * (pa1 + s * (pa2 + s * (pa3 + s * (pa4 + s * (pa5 + s * pa6)))));
    let q = 1 + s * (qa1 + s * (qa2 + s * (qa3 + s * (qa4 + s * (qa5 + s * qa6)))));
    return sign * (erx + p / q);
  }
  if (ax >= 6) return sign * (1 - 1e-300);
  let s = 1 / (ax * ax);
  let r: f64, q: f64;
  if (ax < 1 / 0.35) {
    r = ra0 + s * (ra1 + s * (ra2 + s * (ra3 + s * (ra4 + s * (ra5 + s * (ra6 + s * ra7))))));
    q = 1 + s * (sa1 + s * (sa2 + s * (sa3 + s * (sa4 + s * (sa5 + s * (sa6 + s * (sa7 + s * sa8)))))));
  } else {
    r = rb0 + s * (rb1 + s * (rb2 + s * (rb3 + s * (rb4 + s * (rb5 + s * rb6)))));
    q = 1 + s * (sb1 + s * (sb2 + s * (sb3 + s * (sb4 + s * (sb5 + s * (sb6 + s * sb7))))));
  }
  // fdlibm's SET_LOW_WORD(z, 0)
  let z = reinterpret<f64>(reinterpret<u64>(ax) & 0xffffffff00000000);
  let e = Math.exp(-z * z - 0.5625) * Math.exp((z - ax) * (z + ax) + r / q);
  return sign * (1 - e / ax);
}
