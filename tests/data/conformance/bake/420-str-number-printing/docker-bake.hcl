target "default" {
  args = {
    INT          = 42
    BIG          = 123456789012345678901234567890
    FRAC         = 0.1
    EXP          = 1e3
    EXP_SMALL    = 1.5e-7
    EXP_BIG      = 1E30
    EXP_PLUS     = 2.5e+3
    NEG_ZERO     = -0
    NEG_ZERO_F   = -0.0
    ZERO_TIMES   = 0 * -1
    NEG_FRAC     = -2.50
    THIRD        = 1 / 3
    TWO_THIRDS   = 2 / 3
    PRODUCT      = 0.1 * 3
    SUM          = 0.1 + 0.2
    HUGE         = 2e20
    TMPL_HUGE    = "${2e20}"
    TMPL_THIRD   = "x${1 / 3}"
    TMPL_NEG     = "${-0}"
    TMPL_EXP     = "v${1e-3}"
    MOD          = 7 % 3
    NEG_MOD      = -7 % 3
    POW          = pow(2, 100)
    POW_FRAC     = pow(2, -3)
    DIV          = 10 / 4
    FLOOR        = floor(-2.5)
    CEIL         = ceil(2.000001)
    MAX          = max(1, 2.5, -3)
    PARSEINT     = parseint("ff", 16)
  }
}
