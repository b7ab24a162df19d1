"""The catalog's data: the daily shapes and the 15 smart service groups of Da Nang's IOC, with
their source kinds, metrics and KPIs (a data table; the types are :mod:`ioc.catalog_types`),
and the names people read in English and Vietnamese (:mod:`ioc.i18n` serves them).
Read it through :mod:`ioc.catalog`.
"""

from __future__ import annotations

from ioc.catalog_types import (
    COUNT_SURGE,
    CUSUM,
    PHYSICAL_RANGE,
    ROBUST_Z,
    STUCK,
    THRESHOLD,
    Direction,
    Kpi,
    MetricSpec,
    ServiceGroup,
    SourceKind,
    daily_shape,
)
from ioc.districts import COASTAL

__all__ = ["CATALOG", "COMMUTE", "COMMUTE_DIP", "DAYTIME", "EVENING", "EVENTS", "GROUP_NAMES_VI",
           "KIND_NAMES", "KPI_NAMES_VI", "LEVEL", "METRIC_NAMES", "OFFICE", "PHOTOSYNTHESIS",
           "POLLUTION", "SENSOR", "SUNLIGHT"]

# --- daily shapes: 24 hourly multipliers of the base level --------------------------------
OFFICE = daily_shape({0: 0.15, 6: 0.2, 8: 1.3, 11: 1.5, 13: 0.9,
                      15: 1.5, 17: 1.1, 20: 0.5, 23: 0.2})
COMMUTE = daily_shape({0: 0.25, 5: 0.3, 7: 1.7, 9: 1.2, 12: 1.1, 17: 1.8, 19: 1.2, 22: 0.5})
COMMUTE_DIP = daily_shape({0: 1.25, 5: 1.2, 7: 0.6, 9: 0.9, 12: 0.95, 17: 0.55, 19: 0.9, 22: 1.15})
POLLUTION = daily_shape({0: 0.8, 4: 0.75, 7: 1.35, 10: 1.0, 14: 0.85, 18: 1.4, 21: 1.1})
DAYTIME = daily_shape({0: 0.4, 5: 0.5, 9: 1.2, 13: 1.4, 17: 1.2, 21: 0.7})
EVENING = daily_shape({0: 0.7, 4: 0.3, 8: 0.8, 12: 1.0, 19: 1.6, 22: 1.3})
SUNLIGHT = daily_shape({0: 0.4, 6: 0.5, 12: 1.6, 15: 1.7, 19: 0.7})
PHOTOSYNTHESIS = daily_shape({0: 0.92, 6: 0.85, 11: 1.05, 15: 1.15, 20: 0.98})


# Every metric states its harmful side (``harmful``: "high", "low" or "both"): a required
# keyword of _m and _c, so no metric of the catalog leaves it to a default.
def _m(name: str, unit: str, base: float, normal: tuple[float, float],
       physical: tuple[float, float], detectors: tuple[str, ...], *, harmful: Direction,
       **kw: object) -> MetricSpec:
    return MetricSpec(name, unit, "measure", base, normal, physical, detectors,
                      harmful=harmful, **kw)  # type: ignore[arg-type]


def _c(name: str, base: float, normal: tuple[float, float], detectors: tuple[str, ...],
       kinds: tuple[str, ...], *, harmful: Direction, **kw: object) -> MetricSpec:
    return MetricSpec(name, "events", "count", base, normal, (0.0, 1e9), detectors,
                      event_kinds=kinds, harmful=harmful, **kw)  # type: ignore[arg-type]


SENSOR = (ROBUST_Z, PHYSICAL_RANGE, STUCK)
LEVEL = (*SENSOR, CUSUM)
EVENTS = (COUNT_SURGE,)

CATALOG: tuple[ServiceGroup, ...] = (
    ServiceGroup(
        1, "citizen_feedback", "Citizen feedback & complaints",
        "Hotline 1022, the Smart City app and the portal: tickets opened, handled, overdue.",
        (SourceKind("channel", "cf", 2, 20.0, (
            _c("tickets_opened", 0.6, (0.1, 2.0), EVENTS, ("hotline", "app", "portal"),
               daily=OFFICE, weekend=0.5, harmful="high"),
            _c("tickets_handled", 0.55, (0.1, 2.0), (COUNT_SURGE,), ("on_time", "late"),
               daily=OFFICE, weekend=0.4, harmful="low"),
            _c("tickets_overdue", 0.03, (0.0, 0.2), (COUNT_SURGE,), ("overdue",), daily=OFFICE,
               harmful="high"),
        ), description="one intake channel per district"),),
        (Kpi("received", "Tickets received", "sum", "tickets_opened"),
         Kpi("handled_on_time_pct", "% handled on time", "ratio", "tickets_handled", "%",
             other="tickets_overdue"),
         Kpi("overdue", "Overdue tickets", "sum", "tickets_overdue")),
        window_s=300,
    ),
    ServiceGroup(
        2, "public_services", "Online public services & administrative dossiers",
        "Dossiers submitted online or at the counter, processed, near-due and overdue.",
        (SourceKind("office", "ps", 1, 30.0, (
            _c("dossiers_submitted", 1.2, (0.2, 3.0), EVENTS, ("online", "counter"),
               daily=OFFICE, weekend=0.1, harmful="high"),
            _c("dossiers_processed", 1.1, (0.2, 3.0), (COUNT_SURGE,), ("on_time", "late"),
               daily=OFFICE, weekend=0.1, harmful="low"),
            _c("dossiers_overdue", 0.04, (0.0, 0.3), (COUNT_SURGE,), ("overdue",), daily=OFFICE,
               harmful="high"),
        ), description="one-stop administrative office"),),
        (Kpi("submitted", "Dossiers submitted", "sum", "dossiers_submitted"),
         Kpi("on_time_pct", "% processed on time", "ratio", "dossiers_processed", "%",
             other="dossiers_overdue"),
         Kpi("overdue", "Overdue dossiers", "sum", "dossiers_overdue")),
        window_s=300,
    ),
    ServiceGroup(
        3, "online_information", "Information on the online environment",
        "Social listening: mentions of the city and their sentiment.",
        (SourceKind("listener", "ol", 1, 15.0, (
            _c("mentions", 4.0, (1.0, 10.0), EVENTS, ("news", "social", "forum"),
               daily=EVENING, harmful="high"),
            _m("negative_share", "%", 18.0, (8.0, 30.0), (0.0, 100.0), (*SENSOR, THRESHOLD),
               noise=0.12, breach_above=45.0, harmful="high"),
        )),),
        (Kpi("mentions", "Mentions", "sum", "mentions"),
         Kpi("negative_share", "Negative share", "mean", "negative_share", "%")),
    ),
    ServiceGroup(
        4, "environment", "Air & water quality monitoring",
        "Air stations (PM2.5, PM10, NO2, O3, AQI) and water stations (pH, DO, COD, TSS).",
        (SourceKind("air_station", "air", 2, 10.0, (
            _m("pm25", "µg/m³", 24.0, (8.0, 45.0), (0.0, 1000.0), (*LEVEL, THRESHOLD),
               daily=POLLUTION, weekend=0.85, noise=0.1, breach_above=55.0, harmful="high"),
            _m("pm10", "µg/m³", 42.0, (15.0, 80.0), (0.0, 2000.0), SENSOR,
               daily=POLLUTION, weekend=0.85, noise=0.1, breach_above=150.0, harmful="high"),
            _m("no2", "µg/m³", 28.0, (10.0, 60.0), (0.0, 2000.0), SENSOR,
               daily=COMMUTE, noise=0.1, breach_above=200.0, harmful="high"),
            _m("o3", "µg/m³", 55.0, (20.0, 110.0), (0.0, 1000.0), SENSOR,
               daily=SUNLIGHT, noise=0.1, breach_above=180.0, harmful="high"),
            _m("aqi", "index", 62.0, (25.0, 100.0), (0.0, 500.0), (*SENSOR, THRESHOLD),
               daily=POLLUTION, noise=0.08, breach_above=150.0, harmful="high"),
        ), description="automatic air quality station"),
         SourceKind("water_station", "wq", 1, 20.0, (
             _m("ph", "pH", 7.3, (6.5, 8.5), (0.0, 14.0), (*LEVEL, THRESHOLD),
                noise=0.01, breach_above=9.0, breach_below=5.5, harmful="both"),
             _m("dissolved_oxygen", "mg/L", 6.5, (5.0, 8.0), (0.0, 20.0), LEVEL,
                daily=PHOTOSYNTHESIS, noise=0.04, breach_below=4.0, harmful="low"),
             _m("cod", "mg/L", 18.0, (8.0, 30.0), (0.0, 1000.0), SENSOR,
                noise=0.08, breach_above=50.0, harmful="high"),
             _m("tss", "mg/L", 35.0, (15.0, 60.0), (0.0, 5000.0), SENSOR,
                noise=0.1, breach_above=100.0, harmful="high"),
         ), description="surface water quality station")),
        (Kpi("aqi_max", "Highest AQI", "max", "aqi"),
         Kpi("stations_in_breach", "Air stations in breach", "breach", "pm25"),
         Kpi("water_in_breach", "Water stations in breach", "breach", "ph")),
    ),
    ServiceGroup(
        5, "socioeconomic", "Socio-economic statistics",
        "Periodic figures: tourist arrivals, consumer prices, budget disbursement.",
        (SourceKind("statistics_office", "se", 1, 60.0, (
            _m("tourist_arrivals", "visitors/h", 1400.0, (600.0, 2500.0), (0.0, 100000.0),
               (ROBUST_Z,), daily=DAYTIME, weekend=1.3, noise=0.08, harmful="both"),
            _m("cpi", "index", 103.5, (101.0, 106.0), (50.0, 200.0), (CUSUM,),
               noise=0.002, harmful="both"),
            _m("budget_disbursed", "%", 62.0, (40.0, 90.0), (0.0, 100.0), (CUSUM,),
               noise=0.005, breach_below=30.0, harmful="low"),
        ), districts=("Hai Chau",), description="city statistics office feed"),),
        (Kpi("arrivals", "Tourist arrivals", "sum", "tourist_arrivals", "visitors"),
         Kpi("cpi", "CPI", "mean", "cpi", "index")),
        window_s=300,
    ),
    ServiceGroup(
        6, "emergency_vehicles", "Ambulances & fire trucks",
        "GPS of emergency vehicles, missions started and ended, response times.",
        (SourceKind("vehicle", "ev", 2, 5.0, (
            _m("speed", "km/h", 32.0, (0.0, 70.0), (0.0, 200.0), (PHYSICAL_RANGE,),
               noise=0.25, harmful="both"),
            _m("response_time", "min", 9.0, (5.0, 15.0), (0.0, 240.0),
               (ROBUST_Z, THRESHOLD, PHYSICAL_RANGE), daily=COMMUTE, noise=0.15,
               breach_above=20.0, harmful="high"),
            _c("missions", 0.08, (0.0, 0.5), (COUNT_SURGE,), ("started", "ended"), harmful="high"),
        ), description="ambulance or fire truck"),),
        (Kpi("missions", "Missions", "sum", "missions"),
         Kpi("response_time", "Mean response time", "mean", "response_time", "min")),
    ),
    ServiceGroup(
        7, "wastewater", "Wastewater collection & treatment",
        "Pumping stations and treatment plants: flows, pump state, effluent quality.",
        (SourceKind("pump_station", "ww", 1, 10.0, (
            _m("inflow", "m³/h", 420.0, (200.0, 700.0), (0.0, 5000.0), LEVEL,
               daily=DAYTIME, noise=0.06, harmful="high"),
            _m("outflow", "m³/h", 410.0, (200.0, 700.0), (0.0, 5000.0), LEVEL,
               daily=DAYTIME, noise=0.06, harmful="both"),
            _m("pumps_running", "pumps", 3.0, (2.0, 4.0), (0.0, 8.0),
               (THRESHOLD, PHYSICAL_RANGE), noise=0.0, breach_below=1.5, harmful="low"),
            _m("effluent_cod", "mg/L", 45.0, (20.0, 75.0), (0.0, 2000.0), (*SENSOR, THRESHOLD),
               noise=0.08, breach_above=100.0, harmful="high"),
        ), description="pumping station with effluent sensor"),),
        (Kpi("inflow", "Total inflow", "sum", "inflow", "m³/h"),
         Kpi("pumps_down", "Stations with pumps down", "breach", "pumps_running"),
         Kpi("effluent_breach", "Effluent breaches", "breach", "effluent_cod")),
    ),
    ServiceGroup(
        8, "flooding", "Rainfall & urban flooding",
        "Rain gauges (mm/h) and flood-depth towers (cm) at known flood points.",
        (SourceKind("rain_gauge", "rain", 1, 10.0, (
            _m("rainfall", "mm/h", 1.5, (0.0, 8.0), (0.0, 300.0),
               (ROBUST_Z, THRESHOLD, PHYSICAL_RANGE), noise=0.4, breach_above=30.0, harmful="high"),
        ), description="tipping-bucket rain gauge"),
         SourceKind("flood_tower", "flood", 2, 10.0, (
             _m("flood_depth", "cm", 2.0, (0.0, 8.0), (0.0, 400.0),
                (*SENSOR, THRESHOLD, CUSUM), noise=0.3, breach_above=20.0, harmful="high"),
         ), description="ultrasonic flood-depth tower at a flood-prone street")),
        (Kpi("flooded_points", "Flooded points", "breach", "flood_depth"),
         Kpi("max_depth", "Max flood depth", "max", "flood_depth", "cm"),
         Kpi("max_rain", "Max rainfall", "max", "rainfall", "mm/h")),
    ),
    ServiceGroup(
        9, "fishing_vessels", "Fishing vessels at sea",
        "Vessel monitoring system (VMS): positions, speed, signal loss, boundary crossings.",
        (SourceKind("vessel", "vms", 3, 15.0, (
            _m("speed", "kn", 6.0, (0.0, 12.0), (0.0, 40.0), (ROBUST_Z, PHYSICAL_RANGE),
               noise=0.2, harmful="both"),
            _m("distance_offshore", "nmi", 40.0, (5.0, 120.0), (0.0, 400.0),
               (CUSUM, PHYSICAL_RANGE), noise=0.02, harmful="high"),
            _c("boundary_crossings", 0.01, (0.0, 0.1), (COUNT_SURGE,), ("crossed",),
               harmful="high"),
        ), districts=COASTAL, description="VMS transponder on a fishing vessel"),),
        (Kpi("vessels_reporting", "Vessels reporting", "breach", "speed"),
         Kpi("crossings", "Boundary crossings", "sum", "boundary_crossings")),
    ),
    ServiceGroup(
        10, "healthcare", "Healthcare & medical examination",
        "Hospital visits, bed occupancy and notifiable disease cases.",
        (SourceKind("hospital", "hos", 1, 30.0, (
            _c("visits", 2.0, (0.5, 5.0), EVENTS, ("outpatient", "emergency"),
               daily=OFFICE, weekend=0.6, harmful="high"),
            _m("bed_occupancy", "%", 78.0, (60.0, 92.0), (0.0, 150.0),
               (*LEVEL, THRESHOLD), noise=0.02, breach_above=100.0, harmful="high"),
            _c("notifiable_cases", 0.05, (0.0, 0.3), (COUNT_SURGE,), ("dengue", "hfmd", "flu"),
               harmful="high"),
        ), description="district hospital"),),
        (Kpi("visits", "Visits", "sum", "visits"),
         Kpi("occupancy", "Bed occupancy", "mean", "bed_occupancy", "%"),
         Kpi("cases", "Notifiable cases", "sum", "notifiable_cases")),
    ),
    ServiceGroup(
        11, "camera_analytics", "Camera & drone analytics",
        "AI cameras and drones: crowd density, detections, lost-person reports.",
        (SourceKind("camera", "cam", 2, 10.0, (
            _m("crowd_density", "persons/m²", 0.6, (0.1, 1.5), (0.0, 10.0),
               (*SENSOR, THRESHOLD), daily=EVENING, weekend=1.4, noise=0.12,
               breach_above=3.0, harmful="high"),
            _c("detections", 1.5, (0.2, 4.0), EVENTS, ("vehicle", "person", "object"),
               harmful="both"),
            _c("lost_person_reports", 0.01, (0.0, 0.1), (COUNT_SURGE,), ("reported",),
               harmful="high"),
        ), description="AI camera at a public space"),),
        (Kpi("crowd_max", "Max crowd density", "max", "crowd_density", "persons/m²"),
         Kpi("crowd_alerts", "Cameras over crowd limit", "breach", "crowd_density"),
         Kpi("detections", "Detections", "sum", "detections")),
    ),
    ServiceGroup(
        12, "traffic", "Traffic operations",
        "Road segments: speed and volume; signal controllers: faults.",
        (SourceKind("segment", "trf", 3, 10.0, (
            _m("speed", "km/h", 38.0, (15.0, 55.0), (0.0, 150.0), (*LEVEL, THRESHOLD),
               daily=COMMUTE_DIP, weekend=1.1, noise=0.08, breach_below=12.0, harmful="low"),
            _m("volume", "veh/h", 900.0, (200.0, 1800.0), (0.0, 10000.0), SENSOR,
               daily=COMMUTE, weekend=0.8, noise=0.08, harmful="high"),
            _c("signal_faults", 0.01, (0.0, 0.1), (COUNT_SURGE,), ("lamp", "controller", "power"),
               harmful="high"),
        ), description="detector loop and signal controller on a road segment"),),
        (Kpi("congested", "Congested segments", "breach", "speed"),
         Kpi("mean_speed", "Mean speed", "mean", "speed", "km/h"),
         Kpi("faults", "Signal faults", "sum", "signal_faults")),
    ),
    ServiceGroup(
        13, "public_security", "Public order & security",
        "Incidents reported by ward police and uptime of security cameras.",
        (SourceKind("ward_post", "sec", 1, 20.0, (
            _c("incidents", 0.15, (0.0, 0.6), EVENTS, ("theft", "disorder", "traffic", "other"),
               daily=EVENING, harmful="high"),
            _m("camera_uptime", "%", 98.5, (95.0, 100.0), (0.0, 100.0),
               (THRESHOLD, PHYSICAL_RANGE, CUSUM), noise=0.005, breach_below=90.0, harmful="low"),
        ), description="ward police post"),),
        (Kpi("incidents", "Incidents", "sum", "incidents"),
         Kpi("camera_uptime", "Camera uptime", "mean", "camera_uptime", "%")),
    ),
    ServiceGroup(
        14, "cybersecurity", "Information security (SOC)",
        "The city SOC: attacks blocked, failed logins, systems with critical vulnerabilities.",
        (SourceKind("soc_sensor", "soc", 1, 10.0, (
            _c("attacks_blocked", 3.0, (0.5, 8.0), EVENTS, ("ddos", "web", "malware", "scan"),
               harmful="high"),
            _c("failed_logins", 1.0, (0.1, 3.0), (COUNT_SURGE,), ("vpn", "portal", "email"),
               harmful="high"),
            _m("critical_vulns", "systems", 4.0, (0.0, 10.0), (0.0, 10000.0),
               (THRESHOLD, CUSUM), noise=0.0, breach_above=12.0, harmful="high"),
        ), districts=("Hai Chau",), description="SOC sensor of the city data centre"),),
        (Kpi("attacks", "Attacks blocked", "sum", "attacks_blocked"),
         Kpi("critical_vulns", "Critical vulnerabilities", "max", "critical_vulns", "systems")),
    ),
    ServiceGroup(
        15, "public_transport", "Public transport",
        "Bus GPS: delays, headways and speeds per route.",
        (SourceKind("bus", "bus", 2, 10.0, (
            _m("delay", "min", 2.0, (0.0, 6.0), (-30.0, 240.0), (*SENSOR, THRESHOLD),
               daily=COMMUTE, noise=0.3, breach_above=10.0, harmful="high"),
            _m("headway", "min", 15.0, (10.0, 22.0), (0.0, 240.0), SENSOR, noise=0.1,
               harmful="high"),
            _m("speed", "km/h", 24.0, (10.0, 40.0), (0.0, 120.0), (PHYSICAL_RANGE,),
               daily=COMMUTE_DIP, noise=0.12, harmful="both"),
        ), districts=("Hai Chau", "Thanh Khe", "Son Tra", "Ngu Hanh Son", "Lien Chieu",
                      "Cam Le"), description="city bus on a route"),),
        (Kpi("delayed", "Delayed buses", "breach", "delay"),
         Kpi("mean_delay", "Mean delay", "mean", "delay", "min")),
    ),
)

# --- names people read, in English and Vietnamese (ioc.i18n builds the catalogs from them) ---
GROUP_NAMES_VI: dict[str, str] = {
    "citizen_feedback": "Phản ánh, kiến nghị của người dân",
    "public_services": "Dịch vụ công trực tuyến & hồ sơ hành chính",
    "online_information": "Thông tin trên môi trường mạng",
    "environment": "Quan trắc chất lượng không khí & nước",
    "socioeconomic": "Thống kê kinh tế - xã hội",
    "emergency_vehicles": "Xe cứu thương & xe chữa cháy",
    "wastewater": "Thu gom & xử lý nước thải",
    "flooding": "Lượng mưa & ngập úng đô thị",
    "fishing_vessels": "Tàu cá trên biển",
    "healthcare": "Y tế & khám chữa bệnh",
    "camera_analytics": "Phân tích camera & thiết bị bay",
    "traffic": "Điều hành giao thông",
    "public_security": "Trật tự & an ninh công cộng",
    "cybersecurity": "An toàn thông tin (SOC)",
    "public_transport": "Giao thông công cộng",
}

# metric -> (English, Vietnamese)
METRIC_NAMES: dict[str, tuple[str, str]] = {
    "tickets_opened": ("Tickets opened", "Phản ánh mới"),
    "tickets_handled": ("Tickets handled", "Phản ánh đã xử lý"),
    "tickets_overdue": ("Overdue tickets", "Phản ánh quá hạn"),
    "dossiers_submitted": ("Dossiers submitted", "Hồ sơ tiếp nhận"),
    "dossiers_processed": ("Dossiers processed", "Hồ sơ đã giải quyết"),
    "dossiers_overdue": ("Overdue dossiers", "Hồ sơ quá hạn"),
    "mentions": ("Mentions", "Lượt đề cập"),
    "negative_share": ("Negative share", "Tỷ lệ tiêu cực"),
    "pm25": ("PM2.5", "Bụi PM2.5"),
    "pm10": ("PM10", "Bụi PM10"),
    "no2": ("NO2", "NO2"),
    "o3": ("O3", "O3"),
    "aqi": ("AQI", "Chỉ số AQI"),
    "ph": ("pH", "pH"),
    "dissolved_oxygen": ("Dissolved oxygen", "Oxy hòa tan"),
    "cod": ("COD", "COD"),
    "tss": ("TSS", "TSS"),
    "tourist_arrivals": ("Tourist arrivals", "Lượt khách du lịch"),
    "cpi": ("CPI", "CPI"),
    "budget_disbursed": ("Budget disbursed", "Giải ngân ngân sách"),
    "speed": ("Speed", "Tốc độ"),
    "response_time": ("Response time", "Thời gian phản ứng"),
    "missions": ("Missions", "Nhiệm vụ"),
    "inflow": ("Inflow", "Lưu lượng vào"),
    "outflow": ("Outflow", "Lưu lượng ra"),
    "pumps_running": ("Pumps running", "Bơm đang chạy"),
    "effluent_cod": ("Effluent COD", "COD nước thải sau xử lý"),
    "rainfall": ("Rainfall", "Lượng mưa"),
    "flood_depth": ("Flood depth", "Độ sâu ngập"),
    "distance_offshore": ("Distance offshore", "Khoảng cách tới bờ"),
    "boundary_crossings": ("Boundary crossings", "Lượt vượt ranh giới"),
    "visits": ("Visits", "Lượt khám"),
    "bed_occupancy": ("Bed occupancy", "Công suất giường bệnh"),
    "notifiable_cases": ("Notifiable cases", "Ca bệnh truyền nhiễm"),
    "crowd_density": ("Crowd density", "Mật độ đám đông"),
    "detections": ("Detections", "Lượt phát hiện"),
    "lost_person_reports": ("Lost person reports", "Tin báo người lạc"),
    "volume": ("Traffic volume", "Lưu lượng xe"),
    "signal_faults": ("Signal faults", "Sự cố đèn tín hiệu"),
    "incidents": ("Incidents", "Vụ việc"),
    "camera_uptime": ("Camera uptime", "Thời gian camera hoạt động"),
    "attacks_blocked": ("Attacks blocked", "Tấn công bị chặn"),
    "failed_logins": ("Failed logins", "Đăng nhập thất bại"),
    "critical_vulns": ("Critical vulnerabilities", "Lỗ hổng nghiêm trọng"),
    "delay": ("Delay", "Độ trễ"),
    "headway": ("Headway", "Giãn cách chuyến"),
}

# "group/kpi" -> Vietnamese (the English label is the catalog's Kpi.label)
KPI_NAMES_VI: dict[str, str] = {
    "citizen_feedback/received": "Phản ánh tiếp nhận",
    "citizen_feedback/handled_on_time_pct": "% xử lý đúng hạn",
    "citizen_feedback/overdue": "Phản ánh quá hạn",
    "public_services/submitted": "Hồ sơ tiếp nhận",
    "public_services/on_time_pct": "% giải quyết đúng hạn",
    "public_services/overdue": "Hồ sơ quá hạn",
    "online_information/mentions": "Lượt đề cập",
    "online_information/negative_share": "Tỷ lệ tiêu cực",
    "environment/aqi_max": "AQI cao nhất",
    "environment/stations_in_breach": "Trạm không khí vượt ngưỡng",
    "environment/water_in_breach": "Trạm nước vượt ngưỡng",
    "socioeconomic/arrivals": "Lượt khách du lịch",
    "socioeconomic/cpi": "CPI",
    "emergency_vehicles/missions": "Nhiệm vụ",
    "emergency_vehicles/response_time": "Thời gian phản ứng trung bình",
    "wastewater/inflow": "Tổng lưu lượng vào",
    "wastewater/pumps_down": "Trạm có bơm dừng",
    "wastewater/effluent_breach": "Nước thải vượt ngưỡng",
    "flooding/flooded_points": "Điểm ngập",
    "flooding/max_depth": "Độ sâu ngập lớn nhất",
    "flooding/max_rain": "Lượng mưa lớn nhất",
    "fishing_vessels/vessels_reporting": "Tàu đang báo vị trí",
    "fishing_vessels/crossings": "Lượt vượt ranh giới",
    "healthcare/visits": "Lượt khám",
    "healthcare/occupancy": "Công suất giường bệnh",
    "healthcare/cases": "Ca bệnh truyền nhiễm",
    "camera_analytics/crowd_max": "Mật độ đám đông cao nhất",
    "camera_analytics/crowd_alerts": "Camera vượt ngưỡng đám đông",
    "camera_analytics/detections": "Lượt phát hiện",
    "traffic/congested": "Đoạn đường ùn tắc",
    "traffic/mean_speed": "Tốc độ trung bình",
    "traffic/faults": "Sự cố đèn tín hiệu",
    "public_security/incidents": "Vụ việc",
    "public_security/camera_uptime": "Thời gian camera hoạt động",
    "cybersecurity/attacks": "Tấn công bị chặn",
    "cybersecurity/critical_vulns": "Lỗ hổng nghiêm trọng",
    "public_transport/delayed": "Xe buýt trễ",
    "public_transport/mean_delay": "Độ trễ trung bình",
}

# source kind -> (English, Vietnamese): "flood tower 02" / "trạm đo ngập 02"
KIND_NAMES: dict[str, tuple[str, str]] = {
    "channel": ("intake channel", "kênh tiếp nhận"),
    "office": ("one-stop office", "bộ phận một cửa"),
    "listener": ("online listener", "bộ theo dõi mạng"),
    "air_station": ("air station", "trạm không khí"),
    "water_station": ("water station", "trạm nước"),
    "statistics_office": ("statistics office", "cơ quan thống kê"),
    "vehicle": ("vehicle", "xe"),
    "pump_station": ("pump station", "trạm bơm"),
    "rain_gauge": ("rain gauge", "trạm đo mưa"),
    "flood_tower": ("flood tower", "trạm đo ngập"),
    "vessel": ("vessel", "tàu"),
    "hospital": ("hospital", "bệnh viện"),
    "camera": ("camera", "camera"),
    "segment": ("road segment", "đoạn đường"),
    "ward_post": ("ward police post", "công an phường"),
    "soc_sensor": ("SOC sensor", "cảm biến SOC"),
    "bus": ("bus", "xe buýt"),
}
