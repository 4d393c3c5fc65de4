"""The tags ntfy shows as emoji before the title (a subset of ntfy's emoji list: the ones alerting tools send)."""

EMOJI = {
    "+1": "👍", "-1": "👎", "thumbsup": "👍", "thumbsdown": "👎", "ok": "🆗",
    "warning": "⚠️", "rotating_light": "🚨", "no_entry": "⛔", "no_entry_sign": "🚫", "x": "❌",
    "heavy_check_mark": "✔️", "white_check_mark": "✅", "heavy_multiplication_x": "✖️", "exclamation": "❗",
    "question": "❓", "bangbang": "‼️", "red_circle": "🔴", "green_circle": "🟢", "yellow_circle": "🟡",
    "large_blue_circle": "🔵", "skull": "💀", "fire": "🔥", "boom": "💥", "bell": "🔔", "tada": "🎉",
    "partying_face": "🥳", "loudspeaker": "📢", "mega": "📣", "computer": "💻", "floppy_disk": "💾",
    "cd": "💿", "package": "📦", "lock": "🔒", "unlock": "🔓", "key": "🔑", "house": "🏠", "door": "🚪",
    "zap": "⚡", "electric_plug": "🔌", "battery": "🔋", "bulb": "💡", "hourglass": "⌛", "alarm_clock": "⏰",
    "stopwatch": "⏱️", "calendar": "📅", "email": "📧", "envelope": "✉️", "chart_with_upwards_trend": "📈",
    "chart_with_downwards_trend": "📉", "heart": "❤️", "star": "⭐", "rocket": "🚀", "cloud": "☁️",
    "sunny": "☀️", "snowflake": "❄️", "droplet": "💧", "thermometer": "🌡️", "dog": "🐶", "cat": "🐱",
    "robot": "🤖", "ghost": "👻", "bug": "🐛", "wrench": "🔧", "hammer": "🔨", "gear": "⚙️", "link": "🔗",
    "mailbox": "📫", "phone": "📱", "iphone": "📱", "video_camera": "📹", "camera": "📷", "car": "🚗",
    "stop_sign": "🛑", "construction": "🚧", "checkered_flag": "🏁", "triangular_flag_on_post": "🚩",
    "information_source": "ℹ️", "arrows_counterclockwise": "🔄", "recycle": "♻️", "trophy": "🏆",
    "money_with_wings": "💸", "moneybag": "💰", "dollar": "💵", "shield": "🛡️", "eyes": "👀", "smile": "😄",
    "cry": "😢", "sob": "😭", "scream": "😱", "facepalm": "🤦", "shrug": "🤷", "poop": "💩",
}


def emoji_prefix(tags):
    """The emoji of the known tags, in order, as ntfy puts them before the title ("" if none)."""
    return "".join(EMOJI[tag] for tag in tags if tag in EMOJI)
