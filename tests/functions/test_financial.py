"""Financial functions. Expected values: the examples of Microsoft's support pages for each
function (cited [doc], compared to the digits the page prints), or hand derivation from the
defining formulas (cited [hand]). Behaviours seen in Excel-saved workbooks of the conformance
corpus are cited [excel]."""
import datetime as dt

import pytest

import xleval
from xleval.values import XLError

VALUE = XLError("#VALUE!")
NUM = XLError("#NUM!")
NA = XLError("#N/A")
DIV0 = XLError("#DIV/0!")


def ev(formula, **cells):
    return xleval.evaluate(formula, cells)


def block(formula, target, **cells):
    sheet = dict(cells)
    sheet[target] = "{=" + formula + "}"
    wb = xleval.Workbook.from_dict({"Sheet1": sheet})
    wb.calculate()
    return wb["Sheet1!" + target]


def s(y, m, d):
    return float((dt.date(y, m, d) - dt.date(1899, 12, 30)).days)


def doc(got, shown):
    """Equal to a value printed with its number of decimals."""
    text = repr(shown)
    decimals = len(text.split(".")[1]) if "." in text else 0
    assert got == pytest.approx(shown, abs=0.5 * 10 ** -decimals + 1e-12)


# ---------------------------------------------------------------------------------------
# time value of money
# ---------------------------------------------------------------------------------------

def test_pv_fv_pmt_doc():
    doc(ev("PV(0.08/12,12*20,500)"), -59777.15)              # [doc]
    doc(ev("FV(0.06/12,10,-200,-500,1)"), 2581.40)           # [doc]
    doc(ev("FV(0.12/12,12,-1000)"), 12682.50)                # [doc]
    doc(ev("FV(0.11/12,35,-2000,,1)"), 82846.25)             # [doc]
    doc(ev("PMT(0.08/12,10,10000)"), -1037.03)               # [doc]
    doc(ev("PMT(0.08/12,10,10000,0,1)"), -1030.16)           # [doc]
    doc(ev("PMT(0.06/12,18*12,0,50000)"), -129.08)           # [doc]


def test_tvm_zero_rate():
    # [hand] with no interest the flows just add up
    assert ev("PV(0,10,-100)") == 1000.0
    assert ev("FV(0,10,-100,-50)") == 1050.0
    assert ev("PMT(0,10,1000)") == -100.0
    assert ev("NPER(0,-100,1000)") == 10.0


def test_tvm_identities():
    # [hand] PV of the payments of PMT is the loan; FV of a PV is its future value
    assert ev("PV(0.05,10,PMT(0.05,10,1000))") == pytest.approx(1000, rel=1e-12)
    assert ev("FV(0.05,10,0,PV(0.05,10,0,500))") == pytest.approx(500, rel=1e-12)
    assert ev("PMT(0.05,10,1000,0,1)") == pytest.approx(
        ev("PMT(0.05,10,1000)") / 1.05, rel=1e-12)


def test_ipmt_ppmt_doc():
    doc(ev("IPMT(0.1/12,1,3*12,8000)"), -66.67)              # [doc]
    doc(ev("IPMT(0.1,3,3,8000)"), -292.45)                   # [doc]
    doc(ev("PPMT(0.1/12,1,2*12,2000)"), -75.62)              # [doc]
    doc(ev("PPMT(0.08,10,10,200000)"), -27598.05)            # [doc]


def test_ipmt_type1_and_range():
    # [hand] paying in advance: no interest in the first period; the principal parts add
    # up to the loan
    assert ev("IPMT(0.01,1,12,1000,0,1)") == 0.0
    assert ev("CUMPRINC(0.01,12,1000,1,12,1)") == pytest.approx(-1000, rel=1e-12)
    assert ev("CUMPRINC(0.01,12,1000,1,12,0)") == pytest.approx(-1000, rel=1e-12)
    assert ev("IPMT(0.1,0,3,8000)") == NUM
    assert ev("IPMT(0.1,4,3,8000)") == NUM
    assert ev("PPMT(0.1,4,3,8000)") == NUM


def test_nper_doc():
    doc(ev("NPER(0.12/12,-100,-1000,10000,1)"), 59.6738657)   # [doc]
    doc(ev("NPER(0.12/12,-100,-1000,10000)"), 60.0821229)     # [doc]
    doc(ev("NPER(0.12/12,-100,-1000)"), -9.57859404)          # [doc]
    assert ev("NPER(0.1,-10,1000)") == NUM                    # [hand] never repaid


def test_rate():
    doc(ev("RATE(4*12,-200,8000)"), 0.0077)                   # [doc] 1%
    doc(ev("RATE(4*12,-200,8000)*12"), 0.0924)                # [doc] 9.24%
    # [hand] the rate found reproduces the payment
    r = ev("RATE(60,-188.71,10000)")
    assert ev(f"PMT({r!r},60,10000)") == pytest.approx(-188.71, rel=1e-10)
    assert ev("RATE(10,0,-100,200)") == pytest.approx(2 ** 0.1 - 1, rel=1e-12)
    assert ev("RATE(0,-100,1000)") == NUM
    assert ev("RATE(10,100,1000)") == NUM                     # no solution


def test_npv_doc():
    doc(ev("NPV(0.1,-10000,3000,4200,6800)"), 1188.44)          # [doc]
    cells = {"A1": 40000, "A2": 8000, "A3": 9200, "A4": 10000, "A5": 12000, "A6": 14500}
    doc(ev("NPV(0.08,A2:A6)-A1", **cells), 1922.06)             # [doc]
    doc(ev("NPV(0.08,A2:A6,-9000)-A1", **cells), -3749.47)      # [doc]


def test_npv_arguments():
    # [hand] text and blanks in ranges are skipped; typed text numbers count
    assert ev("NPV(0,A1:A3)", A1=1, A2="x", A3=2) == 3.0
    assert ev('NPV(0,1,"2")') == 3.0
    assert ev('NPV(0,1,"x")') == VALUE
    assert ev("NPV(-1,1)") == DIV0
    assert ev("NPV(0.1,A1:A2)", A1=1, A2=NA) == NA


def test_irr_doc():
    cells = {"A1": -70000, "A2": 12000, "A3": 15000, "A4": 18000, "A5": 21000, "A6": 26000}
    doc(ev("IRR(A1:A5)", **cells), -0.021244848)                # [doc] -2.1%
    doc(ev("IRR(A1:A6)", **cells), 0.086630948)                 # [doc] 8.7%
    doc(ev("IRR(A1:A3,-10%)", **cells), -0.443506941)           # [doc] -44.4%


def test_irr_behaviour():
    # [hand] the rate makes the NPV of all flows zero
    r = ev("IRR({-100,60,60})")
    assert -100 + 60 / (1 + r) + 60 / (1 + r) ** 2 == pytest.approx(0, abs=1e-9)
    assert ev("IRR({1,2,3})") == NUM                       # no sign change
    assert ev("IRR({-7,2,-1,4,-3;7,2,-1,4,#N/A})") == VALUE   # [excel] errors are #VALUE!
    # [excel] Newton from a far guess fails; Excel still finds the root
    assert ev("IRR({-7,2,1,4,-3;-7,2,-1,4,4},7)") == pytest.approx(-0.021126011550541612,
                                                                  rel=1e-9)
    # text and blank cells are skipped
    assert ev("IRR(A1:A4)", A1=-100, A2="x", A4=110) == pytest.approx(0.1, rel=1e-12)


def test_mirr_doc():
    cells = {"A1": -120000, "A2": 39000, "A3": 30000, "A4": 21000, "A5": 37000,
             "A6": 46000}
    doc(ev("MIRR(A1:A6,0.1,0.12)", **cells), 0.126094)          # [doc] 13%
    doc(ev("MIRR(A1:A4,0.1,0.12)", **cells), -0.048044655)      # [doc] -5%
    doc(ev("MIRR(A1:A6,0.1,0.14)", **cells), 0.134759111)       # [doc] 13.48%
    assert ev("MIRR({1,2,3},0.1,0.1)") == DIV0


def test_xnpv_xirr_doc():
    cells = {"A1": -10000, "A2": 2750, "A3": 4250, "A4": 3250, "A5": 2750,
             "B1": s(2008, 1, 1), "B2": s(2008, 3, 1), "B3": s(2008, 10, 30),
             "B4": s(2009, 2, 15), "B5": s(2009, 4, 1)}
    doc(ev("XNPV(0.09,A1:A5,B1:B5)", **cells), 2086.65)          # [doc]
    doc(ev("XIRR(A1:A5,B1:B5)", **cells), 0.373362535)           # [doc] 37.34%
    r = ev("XIRR(A1:A5,B1:B5)", **cells)
    assert ev(f"XNPV({r!r},A1:A5,B1:B5)", **cells) == pytest.approx(0, abs=1e-3)


def test_xirr_excel_convergence():
    # [excel] Excel brackets the rate between 0 and the guess (doubled until the sign
    # changes) and bisects to 1e-8: these are its digits, not the exact root
    # 5.315237738583321
    f = "XIRR({-10000,3000,4200,6800},{41275,41306,41334,41365})"
    assert ev(f) == 5.315237760543824
    flows = "{-10,1,5,0.0001,4.5},{1,99,55,4,9}"
    assert ev(f"XIRR({flows},1)") == 0.5993197485804558
    assert ev(f"XIRR({flows},4)") == 0.5993197485804558
    assert ev(f"XIRR({flows})") == 0.5993197500705721


def test_xirr_xnpv_errors():
    assert ev("XIRR({1,2},{1,2})") == NUM                  # no sign change
    assert ev("XIRR({-1,2},{1,2,3})") == NUM               # sizes differ
    assert ev("XIRR({-1,2},{5,2})") == NUM                 # a date before the first
    assert ev("XIRR({-10,1,5,0.0001,4.5},{1,99,55,4,9},-0.1)") == NUM  # [excel]
    assert ev("XIRR({-10,1,5},{1,99,55},TRUE)") == VALUE   # [excel]
    assert ev("XIRR({-10,#N/A,1},{3,#REF!,7})") == XLError("#REF!")  # [excel] dates first
    assert ev("XNPV(0,{-10,1},{1,2})") == NUM              # [excel] rate must be > 0
    assert ev("XNPV(0.1,{-10,TRUE},{1,2})") == VALUE
    # a negative rate of return
    r = ev("XIRR({-100,50},{40000,40365})")
    assert r == pytest.approx(-0.5, abs=1e-7)


def test_cumipmt_cumprinc_doc():
    doc(ev("CUMIPMT(0.09/12,30*12,125000,13,24,0)"), -11135.23)      # [doc]
    doc(ev("CUMIPMT(0.09/12,30*12,125000,1,1,0)"), -937.50)          # [doc]
    doc(ev("CUMPRINC(0.09/12,30*12,125000,13,24,0)"), -934.1071234)  # [doc]
    doc(ev("CUMPRINC(0.09/12,30*12,125000,1,1,0)"), -68.27827118)    # [doc]


@pytest.mark.parametrize("args", ["0,360,125000,1,1,0", "0.01,360,0,1,1,0",
                                  "0.01,360,125000,0,1,0", "0.01,360,125000,2,1,0",
                                  "0.01,360,125000,1,361,0", "0.01,360,125000,1,1,2"])
def test_cumipmt_errors(args):
    assert ev(f"CUMIPMT({args})") == NUM


def test_rates_and_conversions_doc():
    doc(ev("EFFECT(0.0525,4)"), 0.0535427)            # [doc]
    doc(ev("NOMINAL(0.053543,4)"), 0.05250032)        # [doc]
    doc(ev("FVSCHEDULE(1,{0.09,0.11,0.1})"), 1.33089)  # [doc]
    assert ev("DOLLARDE(1.02,16)") == pytest.approx(1.125)        # [doc]
    assert ev("DOLLARDE(1.1,32)") == pytest.approx(1.3125)        # [doc]
    assert ev("DOLLARFR(1.125,16)") == pytest.approx(1.02)        # [doc]
    assert ev("DOLLARFR(1.125,32)") == pytest.approx(1.04)        # [doc]
    doc(ev("PDURATION(2.5%,2000,2200)"), 3.86)        # [doc]
    doc(ev("PDURATION(0.025/12,1000,1200)"), 87.6)    # [doc]
    doc(ev("RRI(96,10000,11000)"), 0.0009933)         # [doc]
    doc(ev("ISPMT(0.1/12,1,3*12,8000)"), -64.81)      # [hand] 8000*r*(1/36-1)


def test_rates_errors():
    assert ev("EFFECT(0,4)") == NUM
    assert ev("EFFECT(0.05,0.5)") == NUM
    assert ev("EFFECT(TRUE,4)") == VALUE
    assert ev("DOLLARDE(1.02,0)") == DIV0
    assert ev("DOLLARDE(1.02,-1)") == NUM
    assert ev("PDURATION(0,1,2)") == NUM
    assert ev("RRI(0,1,2)") == NUM
    assert ev("ISPMT(0.1,1,0,100)") == DIV0
    assert ev("FVSCHEDULE(1,{0.1,\"x\"})") == VALUE


def test_toolpak_rejects_ranges_in_array_formulas():
    # [excel] CUMIPMT(C13:G13, ...) entered as an array formula is #VALUE!
    cells = {"A1": 0.01, "A2": 0.02}
    assert block("CUMIPMT(A1:A2,12,1000,1,1,0)", "C1", **cells) == VALUE
    # PV is not from the ToolPak: the rates are taken one by one
    got = block("PV(A1:A2,3,22)", "C1:C2", **cells)
    assert got[0][0] == pytest.approx(ev("PV(0.01,3,22)"))


# ---------------------------------------------------------------------------------------
# depreciation
# ---------------------------------------------------------------------------------------

def test_sln_syd_doc():
    assert ev("SLN(30000,7500,10)") == 2250.0          # [doc]
    doc(ev("SYD(30000,7500,10,1)"), 4090.91)           # [doc]
    doc(ev("SYD(30000,7500,10,10)"), 409.09)           # [doc]
    assert ev("SLN(1,0,0)") == DIV0
    assert ev("SYD(1,0,10,11)") == NUM


@pytest.mark.parametrize("period, shown", [
    (1, 186083.33), (2, 259639.42), (3, 176814.44), (4, 120410.64), (5, 81999.64),
    (6, 55841.76), (7, 15845.10)])
def test_db_doc(period, shown):
    doc(ev(f"DB(1000000,100000,6,{period},7)"), shown)  # [doc]


def test_db_errors():
    assert ev("DB(1000000,100000,6,8,7)") == NUM
    assert ev("DB(1000000,100000,6,7)") == NUM        # 12 months: no 7th period
    assert ev("DB(1000000,100000,6,1,13)") == NUM


def test_ddb_doc():
    doc(ev("DDB(2400,300,10*365,1)"), 1.32)             # [doc]
    doc(ev("DDB(2400,300,10*12,1,2)"), 40.00)           # [doc]
    doc(ev("DDB(2400,300,10,1,2)"), 480.00)             # [doc]
    doc(ev("DDB(2400,300,10,2,1.5)"), 306.00)           # [doc]
    doc(ev("DDB(2400,300,10,10)"), 22.12)               # [doc]
    assert ev("DDB(2400,300,10,11)") == NUM
    # [hand] the book value never goes below the salvage
    assert ev("DDB(1000,900,2,2)") == 0.0


def test_vdb_doc():
    doc(ev("VDB(2400,300,10*365,0,1)"), 1.32)           # [doc]
    doc(ev("VDB(2400,300,10*12,0,1)"), 40.00)           # [doc]
    doc(ev("VDB(2400,300,10,0,1)"), 480.00)             # [doc]
    doc(ev("VDB(2400,300,10*12,6,18)"), 396.31)         # [doc]
    doc(ev("VDB(2400,300,10*12,6,18,1.5)"), 311.81)     # [doc]
    doc(ev("VDB(2400,300,10,0,0.875,1.5)"), 315.00)     # [doc]


def test_vdb_switch_and_fractions():
    # [hand] cost 1, life 14, factor 1.25: declining balance until straight line (the
    # book value over the remaining life) is larger, from period 4 on
    r = 1.25 / 14
    book3 = (1 - r) ** 3
    assert ev("VDB(1,0,14,2,3,1.25)") == pytest.approx(r * (1 - r) ** 2, rel=1e-12)
    assert ev("VDB(1,0,14,3,4,1.25)") == pytest.approx(book3 / 11, rel=1e-12)
    assert ev("VDB(1,0,14,13,14,1.25)") == pytest.approx(book3 / 11, rel=1e-12)
    assert ev("VDB(1,0,14,3,4,1.25,TRUE)") == pytest.approx(book3 * r, rel=1e-12)
    # [excel] a fractional start shifts the periods: the first one is half a period
    assert ev("VDB(1,0,14,0.5,1.5,1.25)") == pytest.approx(r * (1 - r / 2), rel=1e-12)
    assert ev("VDB(1,0,14,11.5,12.5,1.25)") == pytest.approx(0.06872629045468406, rel=1e-9)
    assert ev("VDB(1,0,14,3,2)") == NUM
    assert ev("VDB(1,0,14,0,15)") == NUM


# ---------------------------------------------------------------------------------------
# T-bills and discounted securities
# ---------------------------------------------------------------------------------------

def test_tbills_doc():
    cells = {"A1": s(2008, 3, 31), "A2": s(2008, 6, 1)}
    doc(ev("TBILLEQ(A1,A2,0.0914)", **cells), 0.094151)       # [doc] 9.4151%
    doc(ev("TBILLPRICE(A1,A2,0.09)", **cells), 98.45)         # [doc]
    doc(ev("TBILLYIELD(A1,A2,98.45)", **cells), 0.0914)       # [doc] 9.14%
    assert ev("TBILLPRICE(A2,A1,0.09)", **cells) == NUM
    assert ev("TBILLPRICE(A1,A1+400,0.09)", **cells) == NUM   # more than a year
    assert ev("TBILLYIELD(A1,A2,0)", **cells) == NUM


def test_discount_securities_doc():
    doc(ev("DISC(DATE(2018,7,1),DATE(2048,1,1),97.975,100,1)"), 0.000686)     # [doc]
    doc(ev("PRICEDISC(DATE(2008,2,16),DATE(2008,3,1),0.0525,100,2)"), 99.79583)  # [doc]
    doc(ev("YIELDDISC(DATE(2008,2,16),DATE(2008,3,1),99.795,100,2)"), 0.052823)  # [doc]
    doc(ev("INTRATE(DATE(2008,2,15),DATE(2008,5,15),1000000,1014420,2)"), 0.05768)  # [doc]
    doc(ev("RECEIVED(DATE(2008,2,15),DATE(2008,5,15),1000000,0.0575,2)"),
        1014584.654)                                                             # [doc]
    doc(ev("PRICEMAT(DATE(2008,2,15),DATE(2008,4,13),DATE(2007,11,11),0.061,0.061,0)"),
        99.98449888)                                                             # [doc]
    doc(ev("YIELDMAT(DATE(2008,3,15),DATE(2008,11,3),DATE(2007,11,8),0.0625,100.0123,0)"),
        0.060954)                                                                # [doc]
    doc(ev("ACCRINTM(DATE(2008,4,1),DATE(2008,6,15),0.1,1000,3)"), 20.54794521)  # [doc]


def test_discount_securities_errors():
    assert ev("DISC(DATE(2008,3,1),DATE(2008,2,16),99,100)") == NUM
    assert ev("DISC(DATE(2008,2,16),DATE(2008,3,1),99,100,5)") == NUM
    assert ev("PRICEDISC(DATE(2008,2,16),DATE(2008,3,1),0,100)") == NUM
    assert ev("DISC(TRUE,DATE(2008,3,1),99,100)") == VALUE


# ---------------------------------------------------------------------------------------
# coupon bonds
# ---------------------------------------------------------------------------------------

def test_coupon_functions_doc():
    args = "DATE(2011,1,25),DATE(2011,11,15),2,1"
    assert ev(f"COUPDAYBS({args})") == 71.0                   # [doc]
    assert ev(f"COUPDAYS({args})") == 181.0                   # [doc]
    assert ev(f"COUPDAYSNC({args})") == 110.0                 # [doc]
    assert ev(f"COUPNCD({args})") == s(2011, 5, 15)           # [doc] 40678
    assert ev(f"COUPPCD({args})") == s(2010, 11, 15)          # [doc] 40497
    assert ev("COUPNUM(DATE(2007,1,25),DATE(2008,11,15),2,1)") == 4.0   # [doc]


def test_coupon_rules():
    # [hand] 30/360: 180-day half years; end-of-month maturities keep month ends
    args = "DATE(2011,1,25),DATE(2011,11,15),2"
    assert ev(f"COUPDAYS({args},0)") == 180.0
    assert ev(f"COUPDAYBS({args},0)") == 70.0
    assert ev(f"COUPDAYSNC({args},0)") == 110.0
    assert ev(f"COUPDAYS({args},3)") == 182.5
    assert ev("COUPPCD(DATE(2011,3,15),DATE(2011,8,31),4)") == s(2011, 2, 28)
    assert ev("COUPNCD(DATE(2011,3,15),DATE(2011,8,31),4)") == s(2011, 5, 31)
    assert ev(f"COUPNUM({args},0)") == 2.0
    assert ev("COUPNUM(DATE(2011,11,15),DATE(2011,1,25),2)") == NUM
    assert ev(f"COUPDAYS({args[:-1]}3)") == NUM       # frequency 3
    assert ev(f"COUPDAYS({args},5)") == NUM


def test_price_yield_duration_doc():
    doc(ev("PRICE(DATE(2008,2,15),DATE(2017,11,15),0.0575,0.065,100,2,0)"),
        94.63436162)                                                            # [doc]
    doc(ev("YIELD(DATE(2008,2,15),DATE(2016,11,15),0.0575,95.04287,100,2,0)"),
        0.065)                                                                  # [doc]
    doc(ev("DURATION(DATE(2018,7,1),DATE(2048,1,1),0.08,0.09,2,1)"), 10.9191453)  # [doc]
    doc(ev("MDURATION(DATE(2008,1,1),DATE(2016,1,1),0.08,0.09,2,1)"), 5.73567)  # [doc]


def test_price_yield_inverse():
    # [hand] YIELD inverts PRICE, also in the last coupon period (closed form)
    for mat in ("DATE(2016,11,15)", "DATE(2008,5,15)"):
        p = ev(f"PRICE(DATE(2008,2,15),{mat},0.0575,0.07,100,2,1)")
        y = ev(f"YIELD(DATE(2008,2,15),{mat},0.0575,{p!r},100,2,1)")
        assert y == pytest.approx(0.07, rel=1e-9)
    assert ev("PRICE(DATE(2008,2,15),DATE(2017,11,15),-0.01,0.065,100,2)") == NUM


def test_accrint_doc():
    args = "DATE(2008,8,31),DATE(2008,5,1),0.1,1000,2,0"
    doc(ev(f"ACCRINT(DATE(2008,3,1),{args})"), 16.666667)                  # [doc]
    doc(ev(f"ACCRINT(DATE(2008,3,5),{args},FALSE)"), 15.555556)           # [doc]
    doc(ev(f"ACCRINT(DATE(2008,4,5),{args},TRUE)"), 7.2222222)            # [doc]


def test_accrint_over_several_periods():
    # [hand] actual/365, two full half-year coupons and a part: 1000 * 10% * days/365
    got = ev("ACCRINT(DATE(2008,1,1),DATE(2008,7,1),DATE(2009,3,1),0.1,1000,2,3)")
    assert got == pytest.approx(1000 * 0.1 * (s(2009, 3, 1) - s(2008, 1, 1)) / 365,
                                rel=1e-12)


def test_amortisation_doc():
    args = "2400,DATE(2008,8,19),DATE(2008,12,31),300,1,0.15,1"
    assert ev(f"AMORLINC({args})") == pytest.approx(360.0)       # [doc]
    assert ev(f"AMORDEGRC({args})") == 776.0                      # [doc]
