"""Generate the labelled data set for repeat-appeal matching: tests/data/repeats_labelled.jsonl.

Every line is one appeal as an operator would register it (village, category, title, content,
caller, time) with a hidden label ``matter``: two appeals are "the same matter / same event" exactly
when their labels are equal. The scenarios (``scenario`` field) are the ones issue 4 asks for:

* ``mass``       the same event told by different villagers, each in their own words (some call twice,
                 a few file it at township level because they did not say which village);
* ``repeat``     one caller on one matter again and again over a month, first call and follow-ups;
* ``village``    different matters from the same villages, including hard ones: the same category at
                 another spot or against another employer / neighbour inside the same three days;
* ``caller``     one caller with different matters (mostly other categories, some the same category);
* ``border``     near-misses across a village border: the same kind of event, worded alike, next door.

The text is composed from paraphrase pools (what villagers actually say on the phone, colloquial,
with fillers), so the same matter shares facts but rarely sentences. Deterministic for a seed:

    .venv/bin/python bench/repeats_dataset.py            # writes tests/data/repeats_labelled.jsonl
    .venv/bin/python bench/repeats_dataset.py --seed 7 --out /tmp/other.jsonl
"""
from __future__ import annotations

import argparse
import csv
import json
import random
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
TZ = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 3, 2, 8, 0, tzinfo=TZ)

OPENERS = ["", "", "", "喂，你好，", "你好，我想反映个事情，", "你好，12345吗？", "您好，我要反映一下，", "喂喂，听得到吗？",
           "麻烦问一下，", "我想投诉一下，", "你好你好，", "同志你好，"]
CLOSERS = ["", "", "", "谢谢了。", "麻烦你们了。", "拜托了。", "请你们重视一下。", "希望尽快给个答复。", "就这个事。"]
GROUPS = ["一组", "二组", "三组", "四组", "五组", "六组", "上寨", "下寨", "新村", "大村"]
FOLLOW_UPS = ["我{ago}就打过电话反映了，", "这是我第{n}次打电话了，", "上次反映的事情到现在还没解决，", "又要麻烦你们了，",
              "之前说会有人来处理，到现在也没人来，", "我{ago}反映过的事，", "还是上回那个事，", "你们到底管不管，"]
AGO = ["上个星期", "前几天", "半个月前", "上次", "月初", "前天"]

# type -> category, whether strangers share it (public), and the pools. Every slot is a list of
# *facts*; every fact is a list of ways to say it. One matter fixes its facts (one per slot); each call
# then tells some of them in its own words, so the same matter shares facts but rarely sentences.
# "spots" are where a public event is (or, for a personal matter, the other party).
TYPES: dict[str, dict] = {
    "pipe": {
        "category": "0202", "public": True,
        "spots": [["街口", "街子口上", "街口十字路那里"], ["小学门口", "学校大门外面", "小学校门口"],
                  ["村委会旁边", "村委会门口", "村委会边上"], ["三组路边", "三组那条路上", "三组大路边"],
                  ["菜市场后面", "农贸市场背后", "菜市场后头"], ["老供销社那里", "以前的供销社门口", "供销社老房子那"]],
        "what": [["水管爆了", "自来水管爆裂了", "水管子爆开了"], ["水管被挖机挖断了", "修路的挖机把水管挖断了", "挖掘机把水管挖破了"],
                 ["水管接头漏水", "水管接口一直在漏", "水管接头那里漏水"], ["主水管裂了", "大水管裂开一条缝", "总水管破裂"]],
        "detail": [["水一直往外冒", "水不停地往外冒", "一直在冒水"], ["水喷起老高", "水柱喷起一人多高", "像喷泉一样往上喷"],
                   ["水从地底下往上涌", "地面一直往上翻水", "水从地下冒上来"], ["滴滴答答漏了好久", "一直在渗漏", "慢慢地漏个不停"]],
        "since": [["从早上到现在", "今天一早开始", "早上起来就这样了"], ["昨天晚上就开始了", "昨晚半夜开始", "从昨晚到现在"],
                  ["已经一个多星期了", "漏了好几天了", "这个星期一直在漏"]],
        "impact": [["路都淹了", "路面全是水", "整条路成了河"], ["好几户家里没水用", "周边人家都停水了", "附近几家都没水了"],
                   ["水流进人家院子里", "水灌进旁边人家屋里", "水淌进了好几家的院坝"], ["下面的田都被冲了", "水把下面的庄稼地冲了", "田里全是水"]],
        "ask": ["请自来水公司赶快来关阀门", "麻烦派人来修一下", "赶紧来处理吧", "希望尽快抢修", "到现在没人来管"],
        "titles": ["水管爆裂冒水", "路边水管破裂", "自来水管漏水", "{spot}水管破裂", "供水管道破裂漏水"],
    },
    "water_off": {
        "category": "0201", "public": True,
        "spots": [["我们组", "我们这个组", "我们组上"], ["整个村子", "全村", "整个村"], ["上半村", "村子上面那片", "上寨那片"],
                  ["安置点", "新建的安置小区", "易地搬迁安置点"]],
        "what": [["停水了", "不来水了", "自来水停了"], ["水压小得很", "水龙头只滴几滴", "水小得接不满一桶"],
                 ["隔一天才来一次水", "水时有时无", "断断续续地停水"]],
        "detail": [["也没贴停水通知", "一点通知都没有", "事先没有任何通知"], ["问村里也说不清楚", "村干部也不知道原因", "村里说不归他们管"],
                   ["水厂电话打不通", "打自来水公司电话没人接", "水厂的电话一直占线"]],
        "since": [["三天了", "已经三天了", "连着三天"], ["从前天开始", "前天到现在", "前天下午起"], ["这个月一直这样", "大半个月了", "这一个月"]],
        "impact": [["老人孩子吃水都成问题", "家里老人娃娃喝水都困难", "吃水都成了问题"], ["只能去井边挑水", "天天去河边挑水", "要走好远去挑水"],
                   ["牲口都没水喝", "猪和牛都没水喝", "养的牲口渴得直叫"]],
        "ask": ["问一下什么时候能来水", "请尽快恢复供水", "麻烦自来水公司查一下", "希望给个说法"],
        "titles": ["停水", "{spot}停水", "长时间停水无通知", "停水多日", "供水不正常"],
    },
    "outage": {
        "category": "0301", "public": True,
        "spots": [["我们组", "我们这片", "我们组上"], ["整个村", "全村", "整个村子"], ["河边那几户", "靠河那片", "河边的几家"],
                  ["街上", "集镇街上", "街子上"]],
        "what": [["停电了", "没电了", "断电了"], ["变压器烧了", "变压器坏了", "变压器冒烟烧掉了"], ["电压低得很", "电灯暗得像蜡烛", "电压不够电器带不动"]],
        "detail": [["供电所电话打不通", "打供电所电话没人接", "供电所电话一直没人接"], ["也没说什么时候来电", "不知道什么时候能来", "问了也没个准话"],
                   ["听见砰的一声", "昨晚打雷响了一声", "响了一声就黑了"]],
        "since": [["从昨晚到现在", "昨天晚上开始", "从昨晚就没电"], ["一整天了", "一天了", "整整一天"], ["两天了", "已经两天", "连着两天"]],
        "impact": [["冰箱里的东西都坏了", "冰柜里的肉都臭了", "冰箱里的菜全坏了"], ["娃娃没法写作业", "孩子晚上作业写不成", "娃娃点蜡烛写作业"],
                   ["养殖场的鸡要热死了", "鸡场的风机停了鸡快闷死了", "养的鸡热死了好几只"], ["抽水机用不了", "抽水浇地的泵用不成", "水泵抽不了水"]],
        "ask": ["请供电公司赶快来抢修", "麻烦派电工来看一下", "希望尽快恢复供电", "赶紧处理一下"],
        "titles": ["停电", "{spot}停电", "停电无人处理", "变压器故障停电", "供电故障"],
    },
    "light": {
        "category": "0104", "public": True,
        "spots": [["进村大路", "进村那条大路上", "进村的主路"], ["村委会广场", "村委会前面的广场", "村委会门口广场"],
                  ["学校下面那段路", "学校下坡那段", "学校下边那截路"], ["二组到三组那段", "二组三组中间那段路", "二组通三组的路"]],
        "what": [["太阳能路灯不亮了", "装的太阳能灯不亮", "太阳能路灯坏了"], ["路灯杆被车撞倒了", "路灯杆撞歪倒在路边", "灯杆被货车撞断了"],
                 ["路灯白天也亮着", "路灯白天都开着", "路灯白天晚上都亮"]],
        "detail": [["十盏有七八盏不亮", "大半都不亮", "只剩两三盏亮"], ["有的灯罩都掉了", "灯罩掉了好几个", "灯头都掉下来了"],
                   ["电池板被人偷了", "太阳能板被偷走了", "上面的电池板不见了"]],
        "since": [["一个多月了", "有一个多月", "个把月了"], ["从过年到现在", "过年以后就这样", "春节后一直"], ["两个月了", "快两个月", "差不多两个月"]],
        "impact": [["晚上出门黑黢黢的", "晚上走路伸手不见五指", "一到晚上黑乎乎的"], ["老人摔过好几次", "有老人晚上摔倒了", "好几个老人走夜路摔跤"],
                   ["娃娃晚上放学不安全", "学生晚自习回家害怕", "娃娃放学要摸黑走"]],
        "ask": ["请帮忙修一下", "找村里说没钱修", "希望有人来管一管", "麻烦协调修好"],
        "titles": ["路灯不亮", "{spot}路灯损坏", "太阳能路灯损坏", "村里路灯坏了"],
    },
    "road": {
        "category": "0101", "public": True,
        "spots": [["通组路", "到我们组的那条通组路", "通我们组的路"], ["进村路", "进村那段路", "进村的那条路"],
                  ["河边那段路", "沿河的那截路", "河边上的路"], ["学校后面的路", "学校背后那条路", "学校后头的路"]],
        "what": [["全是烂泥坑", "路烂得全是泥塘", "坑坑洼洼全是泥"], ["路基垮了一半", "路边垮塌了一大块", "路基塌下去一截"],
                 ["水泥路面开裂了", "新修的水泥路裂了", "路面裂了好多口子"], ["被拉沙石的大车压坏了", "大货车把路压烂了", "拉石头的车把路压垮了"]],
        "detail": [["摩托车都过不去", "骑摩托都过不了", "摩托车都要推着走"], ["只剩一个车身宽", "只剩一个车子的宽度", "窄得只够一辆车过"],
                   ["坑有半米深", "坑深得能埋半个轮子", "有的坑半米多深"]],
        "since": [["下了几场雨之后", "这几场雨一下", "雨季一来"], ["去年就这样了", "从去年到现在", "去年就坏了"], ["修好才半年", "才修了半年", "新修没多久"]],
        "impact": [["娃娃上学一身泥", "学生天天一身泥巴", "孩子上学滚得一身泥"], ["老人去卫生院要人背", "老人看病都出不去", "病人要抬出去"],
                   ["差点有人翻下去", "有辆车差点翻下去", "好几次差点出事"], ["农产品拉不出去", "烤烟拉不出去", "收的菜运不出去"]],
        "ask": ["麻烦政府来看一下", "去年就说要修到现在没动静", "希望赶紧修", "请派人来处理"],
        "titles": ["村组道路坑洼难行", "{spot}损坏", "道路路基垮塌", "道路破损影响出行"],
    },
    "pole": {
        "category": "0304", "public": True,
        "spots": [["学校旁边", "学校边上", "小学旁边"], ["公路边", "大路边上", "公路边上"], ["二组田边", "二组那块田边上", "二组田埂边"]],
        "what": [["电线杆倒了", "电杆倒下来了", "电线杆倒在地上"], ["电线掉在地上", "电线落到地上了", "一根电线掉下来挨着地"],
                 ["电杆歪得快倒了", "电线杆斜得厉害", "电杆往一边歪"]],
        "detail": [["还在冒火花", "电线一直在打火", "有火花噼啪响"], ["没人来拉警戒", "周围也没有人看着", "没有任何警示"],
                   ["被风吹得晃来晃去", "风一吹晃得吓人", "一刮风就晃"]],
        "since": [["昨晚刮大风以后", "昨晚大风一刮", "昨天晚上起风后"], ["今天早上发现的", "早上出门看到的", "今早才发现"], ["从前天开始", "前天就这样", "有两三天了"]],
        "impact": [["娃娃天天从那里过", "学生上学都走那里", "小孩子每天路过"], ["牛差点被电到", "牲口差点触电", "放牛的差点被电"],
                   ["车都不敢过", "车子不敢从下面走", "车辆都绕着走"]],
        "ask": ["请供电公司赶快来处理", "赶紧派人来", "麻烦马上来看一下", "怕出人命"],
        "titles": ["电杆倒伏电线落地", "{spot}电线落地", "电线杆倒伏存在隐患", "电力线路隐患"],
    },
    "river": {
        "category": "1804", "public": True,
        "spots": [["村前那条河", "村子前面的河", "村前的河"], ["大沟", "村里的大沟", "大沟里"], ["水库下游", "水库下面那段", "水库下边"]],
        "what": [["河水发黑发臭", "河水又黑又臭", "水黑得像墨汁"], ["死了好多鱼", "鱼死了一大片", "漂着好多死鱼"], ["河面上漂着一层油", "水面一层油花", "水上浮着油"]],
        "detail": [["怀疑上游工厂偷排", "估计是上面厂子偷偷排的", "肯定是上游的厂排的污水"], ["一股刺鼻的味道", "味道呛人", "闻着刺鼻"],
                   ["晚上偷偷排", "都是半夜排", "趁晚上放的"]],
        "since": [["这两天", "这几天", "最近两天"], ["今天早上发现", "早上起来发现", "今早看到"], ["这个星期", "一个星期了", "这一周"]],
        "impact": [["牲口都不敢放去喝水", "牛羊不敢去河边喝水", "不敢让牲口喝"], ["下游还有人洗菜", "下面还有人在河里洗菜", "有人用河水洗菜"],
                   ["臭得窗子都不敢开", "臭得在家待不住", "整个村都是臭味"], ["田里灌溉用的就是这个水", "浇地用的就是这河水", "秧田就靠这水"]],
        "ask": ["请环保部门来查一下", "希望查清楚是谁排的", "麻烦来取样检测", "赶快来处理"],
        "titles": ["河道水体污染", "{spot}污染", "河里大量死鱼", "河水发黑发臭"],
    },
    "noise": {
        "category": "1802", "public": True,
        "spots": [["石料厂", "村头的石料厂", "采石场"], ["新开的砖厂", "砖厂", "新建的砖厂"], ["街上的歌厅", "街上那家KTV", "街上的卡拉OK"]],
        "what": [["机器响到半夜", "机器轰到半夜", "半夜还在开机器"], ["放炮震得房子抖", "放炮炸石头震得很", "一放炮房子都在抖"], ["唱歌吵到凌晨", "唱到两三点", "音响开得震天响"]],
        "detail": [["说了也不听", "去说了根本不理", "跟老板说了没用"], ["村里去说过一次", "村干部去劝过", "村里出面说过"], ["墙都震裂了", "房子墙裂了缝", "震得瓦都掉了"]],
        "since": [["这一个月", "有一个月了", "差不多一个月"], ["最近半个月", "这半个月", "半个来月"], ["开春以后", "过完年开工以后", "春节后"]],
        "impact": [["老人心脏受不了", "老人被吓得心慌", "老人身体吃不消"], ["娃娃没法学习", "孩子写不成作业", "学生复习不了"], ["一家人都睡不好", "天天睡不着觉", "一晚上睡不了几个钟头"]],
        "ask": ["请环保部门管一管", "希望让他们晚上停工", "麻烦来测一下噪音", "请处理"],
        "titles": ["{spot}噪音扰民", "夜间噪音扰民", "噪音影响休息"],
    },
    "wage": {
        "category": "0901", "public": False,
        "spots": [["张老板的砖厂", "砖厂的张老板", "开砖厂的张老板"], ["县城锦绣花园工地", "锦绣花园那个工地", "锦绣花园工地上"],
                  ["李老板的装修队", "搞装修的李老板", "装修队的李老板"], ["王家养殖场", "王老板的养猪场", "王家的养猪场"],
                  ["修高速的包工头", "高速公路工地的包工头", "高速上的包工头"]],
        "what": [["欠了我八千多块工资", "工资八千多块没给", "还欠我八千来块钱"], ["干了三个月活不给工钱", "三个月的工钱一分没给", "做了三个月没拿到钱"],
                 ["拖欠我们十几个人的工资", "我们一起干活的十几个人都没拿到钱", "欠了我们十几个工人的钱"]],
        "detail": [["打电话也不接", "电话打过去不接", "现在电话都不接了"], ["一直说下个月给", "总说过段时间就给", "每次都说下个月"], ["人都找不到了", "老板跑了找不到人", "人不见了"]],
        "since": [["从去年冬天", "去年冬天开始", "去年腊月起"], ["过年前就该给", "说好年前结的", "年前就该结清"], ["半年了", "拖了半年", "已经半年多"]],
        "impact": [["家里娃娃学费都交不起", "孩子学费都凑不齐", "娃娃开学的钱都没有"], ["老人看病没钱", "老母亲住院没钱交", "家里老人看病钱都拿不出"],
                   ["欠的账还不上", "借的钱还不上", "外面的账还不起"]],
        "ask": ["请劳动部门帮忙讨回来", "希望帮我们要工资", "请政府做主", "麻烦帮忙协调"],
        "titles": ["拖欠农民工工资", "{spot}拖欠工资", "讨要工资", "被拖欠劳务费"],
    },
    "dibao": {
        "category": "1001", "public": False,
        "spots": [["我家的低保", "我们家低保", "家里的低保"]],
        "what": [["低保被取消了", "低保给取消了", "低保没有了"], ["低保金几个月没到账", "低保钱几个月没打来", "几个月没收到低保金"],
                 ["申请低保评不上", "低保申请一直评不上", "申请了低保不给评"]],
        "detail": [["也没人通知", "没有任何人通知我们", "事先一点都不知道"], ["村里说是名额不够", "村干部说名额满了", "说是指标不够"],
                   ["别人家条件好的都有", "条件比我们好的都吃上了", "有车有房的都有低保"]],
        "since": [["这三个月", "三个月了", "有三个月"], ["从今年开始", "今年以来", "今年起"], ["过完年", "年后", "春节以后"]],
        "impact": [["我老伴瘫痪在床", "老伴瘫在床上好几年", "家里老伴卧床不起"], ["家里两个老人没收入", "两个老人一分收入都没有", "两位老人没有收入来源"],
                   ["看病全靠借钱", "看病的钱都是借的", "吃药全靠借"]],
        "ask": ["请民政局核实一下", "希望恢复低保", "给个说法", "请帮忙查查"],
        "titles": ["低保被取消", "低保待遇问题", "申请恢复低保", "低保停发"],
    },
    "land": {
        "category": "0601", "public": False,
        "spots": [["邻居张某", "隔壁张家", "隔壁姓张的"], ["同组的李家", "李家兄弟", "同组姓李的"], ["村里的王某", "王某一家", "姓王的那家"]],
        "what": [["占了我家的地", "把我家的地占了", "侵占我家的地"], ["把地界的界桩挪了", "偷偷挪了界桩", "把分界的石头挪了"],
                 ["在我家承包地上盖房子", "在我的地里建房", "占我承包地修房子"]],
        "detail": [["我去说还要动手", "去理论还要打人", "说了几句就要动手"], ["村里调解了两次没用", "村委会调解过两回", "调解了也不听"],
                   ["有土地证为证", "我有承包证", "承包合同上写得清清楚楚"]],
        "since": [["从去年开始", "去年起", "去年就开始了"], ["上个月", "上个月的事", "上个月开始"], ["开春的时候", "春耕的时候", "开春时"]],
        "impact": [["我家的庄稼种不成", "地种不成了", "今年的庄稼都没法种"], ["两家快要打起来了", "两家差点打起来", "两家闹得很凶"],
                   ["老人气得生病", "老母亲气病了", "老人气得住院"]],
        "ask": ["请政府来调解", "希望来实地看一下", "给我们做个主", "请乡里处理"],
        "titles": ["土地权属纠纷", "邻里土地纠纷", "耕地被他人占用", "{spot}侵占土地"],
    },
    "house": {
        "category": "1901", "public": False,
        "spots": [["我家的老房子", "我住的土坯房", "我家那间老土房"]],
        "what": [["墙裂了申请危房改造一直没批", "墙开裂了报危改没批下来", "房子裂缝申请危改没批"],
                 ["房子漏雨申请危改没人管", "屋顶漏雨报了危改没人理", "房子漏得厉害危改没人管"], ["危改名单里没有我家", "危房改造名单没有我们", "危改没把我家报上去"]],
        "detail": [["村里说等通知", "村里一直叫等", "说是等上面通知"], ["材料交了好几次", "资料交了三四回", "材料都交了好几遍"], ["鉴定是C级危房", "鉴定过是危房", "评了C级危房"]],
        "since": [["去年就报上去了", "去年就申请了", "从去年报到现在"], ["申请半年了", "半年了", "报了半年"], ["从前年到现在", "前年就开始申请", "两年了"]],
        "impact": [["一家人住着提心吊胆", "住在里面天天担心", "住着心里发慌"], ["下雨天屋里接水", "一下雨屋里到处是盆", "雨天屋里漏得没法住"],
                   ["老人不敢在屋里睡", "老人晚上都不敢睡屋里", "老人搬去邻居家睡"]],
        "ask": ["请住建局来看一下", "希望尽快批下来", "给个说法", "麻烦核实"],
        "titles": ["危房改造申请未批", "农村危房改造", "危房无人处理"],
    },
}
PUBLIC = [t for t, spec in TYPES.items() if spec["public"]]
PERSONAL = [t for t, spec in TYPES.items() if not spec["public"]]


def load_villages() -> dict[str, list[dict]]:
    """Demo county villages by township code (the real codes, so the set can be replayed into the demo)."""
    by_town: dict[str, list[dict]] = {}
    with open(ROOT / "app/demo/territories.csv", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["parent_code"]:
                by_town.setdefault(row["parent_code"], []).append(row)
    return by_town


class Generator:
    """Composes appeals from the pools with one random source, so a seed gives the same file."""

    def __init__(self, seed: int):
        self.rnd = random.Random(seed)
        self.rows: list[dict] = []
        self.matters = 0
        self.phones: set[str] = set()
        self.by_town = {t: vs for t, vs in load_villages().items() if len(vs) >= 3}

    def phone(self) -> str:
        while True:
            p = f"1{self.rnd.choice('3578')}{self.rnd.randint(0, 9)}{self.rnd.randint(10000000, 99999999)}"
            if p not in self.phones:
                self.phones.add(p)
                return p

    def matter(self) -> int:
        self.matters += 1
        return self.matters

    def village(self) -> tuple[dict, str]:
        town = self.rnd.choice(sorted(self.by_town))
        return self.rnd.choice(self.by_town[town]), town

    def neighbour(self, village: dict) -> dict:
        return self.rnd.choice([v for v in self.by_town[village["parent_code"]] if v["code"] != village["code"]])

    def facts(self, kind: str, spot: int | None = None) -> dict:
        """One matter: its kind, and one fact per slot (each a list of paraphrases)."""
        spec = TYPES[kind]
        chosen = {slot: self.rnd.choice(spec[slot]) for slot in ("what", "detail", "since", "impact")}
        chosen["spot"] = spec["spots"][self.rnd.randrange(len(spec["spots"])) if spot is None else spot]
        chosen["kind"] = kind
        return chosen

    def text(self, facts: dict, village: dict, follow_up: int = 0) -> tuple[str, str]:
        """(title, content) for one call: the matter's facts, some left out, each in a fresh wording."""
        spec, r = TYPES[facts["kind"]], self.rnd
        where, what = r.choice(facts["spot"]), r.choice(facts["what"])
        since = r.choice(facts["since"]) if r.random() < 0.7 else ""
        lead = f"{since}，{where}{what}" if since and r.random() < 0.5 else f"{where}{what}"
        body = [lead] + [r.choice(facts[slot]) for slot in ("detail", "impact") if r.random() < 0.7]
        if since and since not in lead:
            body.insert(r.randint(1, len(body)), since)
        intro = ""
        if r.random() < 0.5:
            intro = r.choice([f"我是{village['name']}的，", f"我是{village['name']}{r.choice(GROUPS)}的村民，",
                              f"{village['name']}这边，", f"我家住{village['name']}，"])
        if follow_up:
            intro += r.choice(FOLLOW_UPS).format(ago=r.choice(AGO), n=follow_up + 1)
        content = r.choice(OPENERS) + intro + "，".join(body) + "，" + r.choice(spec["ask"]) + "。" + r.choice(CLOSERS)
        title = r.choice(spec["titles"]).format(spot=facts["spot"][0])
        return title, content.replace("，，", "，")

    def add(self, scenario: str, matter: int, facts: dict, village: dict, at: datetime, phone: str,
            follow_up: int = 0, territory: str | None = None, anonymous: bool = False) -> None:
        title, content = self.text(facts, village, follow_up)
        self.rows.append({
            "id": len(self.rows) + 1, "scenario": scenario, "matter": matter, "kind": facts["kind"],
            "category": TYPES[facts["kind"]]["category"], "territory": territory or village["code"],
            "township": village["parent_code"], "village": village["name"], "phone": phone, "anonymous": anonymous,
            "received_at": at.isoformat(timespec="minutes"), "title": title, "content": content,
        })

    def other_spot(self, facts: dict) -> int:
        spots = TYPES[facts["kind"]]["spots"]
        return self.rnd.choice([i for i, s in enumerate(spots) if s is not facts["spot"]] or [0])

    # --- scenarios ------------------------------------------------------------------------
    def mass(self, n: int) -> None:
        """Same event, different villagers; then another matter of the same kind nearby, in the village or next door."""
        for i in range(n):
            kind = self.rnd.choice(PUBLIC)
            village, _ = self.village()
            event = self.facts(kind)
            t0 = START + timedelta(days=self.rnd.randint(0, 50), hours=self.rnd.randint(0, 12))
            m = self.matter()
            for _ in range(self.rnd.randint(3, 7)):
                at = t0 + timedelta(minutes=self.rnd.randint(0, 60 * 60))
                phone = self.phone()
                # one in ten files it at township level (the caller did not say which village)
                terr = village["parent_code"] if self.rnd.random() < 0.1 else None
                self.add("mass", m, event, village, at, phone, territory=terr, anonymous=self.rnd.random() < 0.1)
                if self.rnd.random() < 0.2:  # the same villager rings again a few hours later
                    self.add("mass", m, event, village, at + timedelta(hours=self.rnd.randint(2, 20)), phone, follow_up=1)
            if i % 2 == 0:  # hard negative: same kind, another spot and its own facts, same village, same days
                self.add("village", self.matter(), self.facts(kind, self.other_spot(event)), village,
                         t0 + timedelta(hours=self.rnd.randint(0, 48)), self.phone())
            else:  # near-miss across the border: the very same facts and words for the spot, next village
                self.add("border", self.matter(), event, self.neighbour(village),
                         t0 + timedelta(hours=self.rnd.randint(0, 48)), self.phone())

    def repeat(self, n: int) -> None:
        """One caller, one matter, three to six calls over a month."""
        for _ in range(n):
            matter = self.facts(self.rnd.choice(PERSONAL + PUBLIC))
            village, _ = self.village()
            phone, m = self.phone(), self.matter()
            t = START + timedelta(days=self.rnd.randint(0, 30), hours=self.rnd.randint(0, 10))
            for k in range(self.rnd.randint(3, 6)):
                self.add("repeat", m, matter, village, t, phone, follow_up=k)
                t += timedelta(days=self.rnd.randint(1, 7), hours=self.rnd.randint(0, 8))

    def village_noise(self, n: int) -> None:
        """Unrelated appeals from the same villages (any kind, any spot)."""
        for _ in range(n):
            village, _ = self.village()
            at = START + timedelta(days=self.rnd.randint(0, 55), hours=self.rnd.randint(0, 12))
            self.add("village", self.matter(), self.facts(self.rnd.choice(list(TYPES))), village, at, self.phone())

    def caller_many(self, n: int) -> None:
        """One caller, two or three different matters; a third of them in the same category."""
        for i in range(n):
            village, _ = self.village()
            phone = self.phone()
            t = START + timedelta(days=self.rnd.randint(0, 40))
            if i % 3 == 0:
                first = self.facts(self.rnd.choice(["wage", "land", "pipe", "light", "road"]))
                plan = [first, self.facts(first["kind"], self.other_spot(first))]
            else:
                plan = [self.facts(k) for k in self.rnd.sample(list(TYPES), k=self.rnd.randint(2, 3))]
            for facts in plan:
                self.add("caller", self.matter(), facts, village, t, phone)
                t += timedelta(days=self.rnd.randint(1, 10))


def generate(seed: int = 20260302) -> list[dict]:
    """The whole labelled set for a seed."""
    g = Generator(seed)
    g.mass(40)
    g.repeat(40)
    g.village_noise(120)
    g.caller_many(30)
    return g.rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=20260302)
    parser.add_argument("--out", type=Path, default=ROOT / "tests/data/repeats_labelled.jsonl")
    args = parser.parse_args()
    rows = generate(args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    scenarios = {}
    for r in rows:
        scenarios[r["scenario"]] = scenarios.get(r["scenario"], 0) + 1
    print(f"{len(rows)} appeals, {len({r['matter'] for r in rows})} matters → {args.out}  {scenarios}")


if __name__ == "__main__":
    main()
